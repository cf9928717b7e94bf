// Entry point of the "Inspect" tab. TensorBoard loads this ES module in the plugin iframe
// (whose <base href> is plugin/keras_inspect/) and calls render() once. Sibling modules live in
// ./static/ relative to this file's URL; data and assets are fetched with relative URLs.
//
// Render contract (used by the browser tests): after every completed render cycle
// document.body.dataset.kiRendered is incremented and document.body.dataset.kiStep holds the
// checkpoint shown.

import { loadPlotly, loadStyle, preloadPlotly } from "./static/assets.js";
import { connectTensorBoard } from "./static/bridge.js";
import { setMessage, removeCharts } from "./static/charts.js";
import { assignRunColors } from "./static/colors.js";
import { el, errorText } from "./static/dom.js";
import { emptyState } from "./static/empty.js";
import * as model from "./static/model.js";
import { PANELS, panelAvailable, panelHint } from "./static/registry.js";
import { Selectors } from "./static/selectors.js";
import { Selection } from "./static/state.js";

const LIST_FIELDS = ["steps", "datasets", "layers", "quantities", "classes", "logs"];

/** A /runs entry with every list field present, or null when it is not usable. */
function normaliseRun(entry) {
  if (!entry || typeof entry.run !== "string") return null;
  const out = { run: entry.run };
  for (const key of LIST_FIELDS) out[key] = Array.isArray(entry[key]) ? entry[key] : [];
  out.steps = out.steps.filter((s) => Number.isFinite(s)).sort((a, b) => a - b);
  out.datasets = out.datasets.map(String);
  out.layers = out.layers.map(String);
  return out;
}

class Dashboard {
  constructor(root) {
    this.root = root;
    this.selection = new Selection();
    this.selectors = new Selectors(this.selection);
    this.generation = 0;
    this.renders = 0;
    this.timer = null;
    this.pending = new Set();
    this.reloading = false;
    this.reloadAgain = false;
    this.plotlyError = null;
    this.dataVersion = 0; // bumped on every successful /runs load (the cache is new then)
  }

  build() {
    this.status = el("p", { className: "ki-status", attrs: { id: "ki-status", role: "status" } });
    const header = el("header", {
      className: "ki-header",
      children: [el("h1", { text: "Inspect" }), el("span", { className: "ki-tagline", text: "keras-inspect: inside the network, checkpoint by checkpoint" }), this.status],
    });
    this.empty = emptyState();
    this.grid = el("main", { className: "ki-grid", attrs: { id: "ki-panels" } });
    this.sections = PANELS.map((panel) => {
      const body = el("div", { className: `ki-panel-body${panel.pair ? " ki-pair" : ""}` });
      const section = el("section", {
        className: `ki-panel${panel.wide ? " ki-wide" : ""}`,
        attrs: { "data-panel": panel.id },
        children: [
          el("header", {
            className: "ki-panel-header",
            children: [el("h2", { text: panel.title }), panel.description ? el("p", { className: "ki-desc", text: panel.description }) : null],
          }),
          body,
        ],
      });
      this.grid.append(section);
      return { panel, section, body };
    });
    this.root.replaceChildren(header, ...this.selectors.elements, this.empty, this.grid);
    this.showEmpty(false);
  }

  showEmpty(empty) {
    this.empty.hidden = !empty;
    for (const element of this.selectors.elements) element.hidden = empty;
    this.grid.hidden = empty;
  }

  setStatus(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle("ki-status-error", isError);
  }

  async start() {
    this.build();
    const style = loadStyle();
    preloadPlotly();
    this.selection.subscribe((_, changed) => {
      this.selectors.sync();
      this.schedule(changed);
    });
    connectTensorBoard({
      "experimental.DataReloaded": () => {
        this.reload().catch((error) => this.setStatus(`Reload failed: ${errorText(error)}`, true));
        return null;
      },
    });
    await style;
    await this.reload();
  }

  /** Re-reads /runs (dropping cached data) and re-renders, keeping the user's selection. */
  async reload() {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = true;
    try {
      do {
        this.reloadAgain = false;
        model.clearCache();
        await this.loadRuns();
      } while (this.reloadAgain);
    } finally {
      this.reloading = false;
    }
  }

  async loadRuns() {
    let data;
    try {
      data = await model.fetchRuns();
    } catch (error) {
      this.setStatus(`Could not load the list of runs: ${errorText(error)}`, true);
      this.markRendered();
      return;
    }
    const runs = (Array.isArray(data && data.runs) ? data.runs : []).map(normaliseRun).filter(Boolean);
    this.dataVersion += 1;
    assignRunColors(runs.map((r) => r.run).sort());
    this.selection.setCatalog(runs); // notifies: selectors sync and a render is scheduled
  }

  /** Coalesces bursts of selection changes into one render cycle. */
  schedule(changed) {
    for (const key of changed) this.pending.add(key);
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const keys = this.pending;
      this.pending = new Set();
      this.renderAll(keys).catch((error) => this.setStatus(`Render failed: ${errorText(error)}`, true));
    }, 0);
  }

  async renderAll(changed) {
    const generation = ++this.generation;
    const started = performance.now();
    const sel = this.selection;
    const catalog = sel.catalog;
    this.showEmpty(catalog.length === 0);
    if (!catalog.length) {
      this.setStatus("");
      this.loadCharts(); // not needed yet, but runs may appear on a reload (and the preload is used)
      this.markRendered(started);
      return;
    }
    const selected = sel.selectedRuns.length;
    const steps = sel.steps;
    this.setStatus(
      `${catalog.length} run${catalog.length === 1 ? "" : "s"}, ${selected} selected` +
        (steps.length ? ` · ${steps.length} checkpoint${steps.length === 1 ? "" : "s"} (steps ${steps[0]}–${steps[steps.length - 1]})` : ""),
    );
    const order = sel.datasetOrder;
    const ctx = {
      state: sel.snapshot(),
      selection: sel,
      runs: sel.selectedRuns,
      layers: sel.availableLayers,
      steps: sel.steps,
      datasetOrder: order,
      datasetIndex: (dataset) => order.indexOf(dataset),
      stepFor: (runInfo) => sel.stepFor(runInfo),
      setStep: (step) => sel.setStep(step),
      isCurrent: () => generation === this.generation,
      dataVersion: this.dataVersion,
      changed,
      model,
    };
    const rendering = Promise.all(this.sections.map((entry) => this.renderPanel(entry, ctx)));
    // plotly.js is loaded only now, once every panel has issued its requests: running the 4.8 MB
    // script blocks the page for a while, and the requests should be on the wire meanwhile.
    this.loadCharts();
    await rendering;
    if (generation === this.generation) {
      if (this.plotlyError) this.setStatus(`Charts unavailable: ${errorText(this.plotlyError)}`, true);
      this.markRendered(started);
    }
  }

  loadCharts() {
    loadPlotly().then(
      () => {
        this.plotlyError = null;
      },
      (error) => {
        this.plotlyError = error;
      },
    );
  }

  async renderPanel({ panel, section, body }, ctx) {
    const runs = ctx.runs.filter((run) => panelAvailable(panel, run));
    section.classList.toggle("ki-unavailable", runs.length === 0);
    if (!runs.length) {
      removeCharts(body);
      setMessage(body, "note", "");
      setMessage(body, "error", "");
      setMessage(body, "hint", ctx.runs.length ? panelHint(panel) : "Select a run to see this panel.");
      return;
    }
    setMessage(body, "hint", "");
    setMessage(body, "error", "");
    try {
      await panel.render(body, { ...ctx, runs });
    } catch (error) {
      if (ctx.isCurrent()) setMessage(body, "error", `Could not draw this panel: ${errorText(error)}`);
    }
  }

  markRendered(started = performance.now()) {
    this.renders += 1;
    const data = document.body.dataset;
    data.kiRenderMs = String(Math.round(performance.now() - started));
    data.kiStep = this.selection.step === null ? "" : String(this.selection.step);
    data.kiRendered = String(this.renders);
  }
}

let dashboard = null;

/** Builds the dashboard inside <div id="ki-root"> (created if absent). Safe to call once. */
export async function render() {
  if (dashboard) return;
  let root = document.getElementById("ki-root");
  if (!root) {
    root = el("div", { attrs: { id: "ki-root" } });
    document.body.append(root);
  }
  dashboard = new Dashboard(root);
  try {
    await dashboard.start();
  } catch (error) {
    root.append(el("p", { className: "ki-error", text: `The dashboard failed to start: ${errorText(error)}` }));
  }
}
