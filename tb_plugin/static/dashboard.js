// The dashboard of the "Inspect" tab, started by ../index.js (TensorBoard's entry point) with
// the first /runs request already under way. The page's <base href> is plugin/keras_inspect/;
// data and assets are fetched with URLs relative to it.
//
// Panels in view are drawn first: a render cycle draws the panels the user can see, then the
// others one at a time while the page is idle (a panel scrolled into view meanwhile goes next).
// Drawing one Plotly chart costs 50-300 ms of main-thread time; drawing what can be seen first
// is what keeps opening the tab, and every change of step or run, fast.
//
// Render contract (used by the browser tests): after every completed render cycle (the panels
// in view drawn) document.body.dataset.kiRendered is incremented and document.body.dataset.kiStep
// holds the checkpoint shown. Each section.ki-panel carries data-ki-state: "deferred" (drawn
// later), "drawing", or "drawn" (for the newest render cycle).

import { viewFromUrl, writeUrl } from "./address.js";
import { loadPlotly, loadStyle, preloadPlotly } from "./assets.js";
import { connectTensorBoard } from "./bridge.js";
import { setMessage, removeCharts } from "./charts.js";
import { assignRunColors } from "./colors.js";
import { el, errorText } from "./dom.js";
import { emptyState } from "./empty.js";
import { FindingsList, targetPanels } from "./findings.js";
import * as model from "./model.js";
import { notRecordedSection } from "./not_recorded.js";
import { choiceMemory } from "./panel_kit.js";
import { panelTools } from "./panel_tools.js";
import { PANELS, panelAvailable, panelHint } from "./registry.js";
import { Selectors } from "./selectors.js";
import { Selection } from "./state.js";

const LIST_FIELDS = ["steps", "datasets", "layers", "quantities", "classes", "logs"];

// Idle time to wait for before drawing the next panel out of view (ms; drawn anyway after it).
const IDLE_TIMEOUT = 150;

/** Resolves when the page is idle (or after IDLE_TIMEOUT ms). */
function idle() {
  return new Promise((resolve) => {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => resolve(), { timeout: IDLE_TIMEOUT });
    else setTimeout(resolve, 0);
  });
}

/** A /runs entry with every list field present, or null when it is not usable. */
function normaliseRun(entry) {
  if (!entry || typeof entry.run !== "string") return null;
  const out = { run: entry.run };
  for (const key of LIST_FIELDS) out[key] = Array.isArray(entry[key]) ? entry[key] : [];
  out.steps = out.steps.filter((s) => Number.isFinite(s)).sort((a, b) => a - b);
  out.datasets = out.datasets.map(String);
  out.layers = out.layers.map(String);
  const byQuantity = entry.quantity_layers;
  out.quantityLayers = byQuantity && typeof byQuantity === "object" && !Array.isArray(byQuantity) ? byQuantity : null;
  return out;
}

class Dashboard {
  constructor(root) {
    this.root = root;
    const view = viewFromUrl();
    this.selection = new Selection({ runs: view.runs, view });
    for (const [key, value] of view.options) choiceMemory.values.set(key, value);
    choiceMemory.changed = () => writeUrl(this.selection);
    this.selectors = new Selectors(this.selection);
    this.generation = 0;
    this.renders = 0;
    this.timer = null;
    this.pending = new Set();
    this.reloading = false;
    this.reloadAgain = false;
    this.plotlyError = null;
    this.dataVersion = 0; // bumped on every successful /runs load (the cache is new then)
    this.observer =
      typeof IntersectionObserver === "function"
        ? new IntersectionObserver((entries) => this.onScroll(entries))
        : null;
  }

  build() {
    this.status = el("p", { className: "ki-status", attrs: { id: "ki-status", role: "status" } });
    const header = el("header", {
      className: "ki-header",
      children: [el("h1", { text: "Inspect" }), el("span", { className: "ki-tagline", text: "keras-inspect: inside the network, checkpoint by checkpoint" }), this.status],
    });
    this.empty = emptyState();
    this.findings = new FindingsList((run, finding) => this.goToFinding(run, finding));
    this.grid = el("main", { className: "ki-grid", attrs: { id: "ki-panels" } });
    this.sections = PANELS.map((panel) => {
      const body = el("div", { className: `ki-panel-body${panel.pair ? " ki-pair" : ""}` });
      const title = el("h2", { text: panel.title });
      const description = el("p", { className: "ki-desc", text: panel.description || "" });
      const { tools, definition } = panelTools(panel, body, () => this.selection.snapshot());
      const section = el("section", {
        className: `ki-panel${panel.wide ? " ki-wide" : ""}`,
        attrs: { "data-panel": panel.id },
        children: [
          el("header", {
            className: "ki-panel-header",
            children: [el("div", { className: "ki-title-row", children: [title, tools] }), description, definition],
          }),
          body,
        ],
      });
      this.grid.append(section);
      if (this.observer) this.observer.observe(section);
      return { panel, section, body, title, description, deferred: null };
    });
    this.notRecorded = notRecordedSection();
    this.grid.append(this.notRecorded.section);
    this.root.replaceChildren(header, ...this.selectors.elements, this.findings.section, this.empty, this.grid);
    this.showEmpty(false);
  }

  showEmpty(empty) {
    this.empty.hidden = !empty;
    for (const element of this.selectors.elements) element.hidden = empty;
    this.grid.hidden = empty;
    if (empty) this.findings.section.hidden = true;
  }

  setStatus(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle("ki-status-error", isError);
  }

  async start(firstRuns) {
    this.build();
    const style = loadStyle();
    preloadPlotly();
    this.selection.subscribe((_, changed) => {
      this.selectors.sync();
      this.schedule(changed);
      if (this.selection.catalog.length) writeUrl(this.selection);
    });
    connectTensorBoard({
      "experimental.DataReloaded": () => {
        this.reload().catch((error) => this.setStatus(`Reload failed: ${errorText(error)}`, true));
        return null;
      },
    });
    // The first /runs request went out with the module downloads (or goes out now).
    const runs = model.fetchRuns(firstRuns);
    runs.catch(() => {}); // handled in loadRuns
    await style;
    await this.reload(runs);
  }

  /**
   * Re-reads /runs (dropping cached data) and re-renders, keeping the user's selection.
   * `pending`, when given, is a /runs request already under way to use for the first read.
   */
  async reload(pending = null) {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = true;
    try {
      do {
        this.reloadAgain = false;
        model.clearCache();
        await this.loadRuns(pending);
        pending = null;
      } while (this.reloadAgain);
    } finally {
      this.reloading = false;
    }
  }

  async loadRuns(pending = null) {
    let data;
    try {
      data = await (pending || model.fetchRuns());
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
    const styles = new Map(sel.datasets.map((dataset) => [dataset, sel.styleIndex(dataset)]));
    const ctx = {
      state: sel.snapshot(),
      selection: sel,
      runs: sel.selectedRuns,
      layers: sel.availableLayers,
      steps: sel.steps,
      datasetOrder: order,
      datasetIndex: (dataset) => styles.get(dataset) ?? order.indexOf(dataset),
      traceStyle: (run, dataset) => sel.traceStyle(run, dataset),
      colorByDataset: sel.colorByDataset,
      stepFor: (runInfo) => sel.stepFor(runInfo),
      setStep: (step) => sel.setStep(step),
      setLayer: (layer) => sel.setLayer(layer),
      isCurrent: () => generation === this.generation,
      dataVersion: this.dataVersion,
      changed,
      model,
    };
    // Panels without data for the selected runs are folded into one line at the end (saying
    // what would fill them): settle that first, since it decides which panels are in view.
    const available = [];
    const missing = [];
    for (const entry of this.sections) {
      entry.deferred = null;
      const runs = ctx.runs.filter((run) => panelAvailable(entry.panel, run));
      entry.section.hidden = runs.length === 0;
      if (runs.length) {
        available.push(entry);
        entry.title.textContent = (entry.panel.titleFor && entry.panel.titleFor(runs)) || entry.panel.title;
        entry.description.textContent = (entry.panel.describeFor && entry.panel.describeFor(runs)) || entry.panel.description || "";
      } else {
        missing.push(entry.panel);
        entry.section.dataset.kiState = "drawn";
      }
    }
    this.notRecorded.show(missing, ctx.runs.length > 0);
    // Half-width panels go in pairs (loss beside model AUC); one without a partner (a
    // regression run has no model AUC) takes the whole row rather than leaving half of it empty.
    const halves = available.filter((entry) => !entry.panel.wide);
    halves.forEach((entry, i) => entry.section.classList.toggle("ki-wide", halves.length % 2 === 1 && i === halves.length - 1));
    // In view by the layout of now (the observer's flags can be older than the stylesheet).
    const now = [];
    for (const entry of available) {
      if (!this.observer || this.inView(entry.section)) now.push(entry);
      else {
        entry.deferred = ctx;
        entry.section.dataset.kiState = "deferred";
      }
    }
    const rendering = Promise.all(now.map((entry) => this.renderPanel(entry, ctx)));
    // Fetched again only for other runs or new data (a step or layer change keeps the list).
    this.findings
      .update(ctx.runs, this.dataVersion, model.fetchFindings)
      .catch((error) => this.setStatus(`Findings failed: ${errorText(error)}`, true));
    // plotly.js is loaded only now, once the panels have issued their requests: running the
    // script blocks the page for a while, and the requests should be on the wire meanwhile.
    this.loadCharts();
    await rendering;
    if (generation === this.generation) {
      if (this.plotlyError) this.setStatus(`Charts unavailable: ${errorText(this.plotlyError)}`, true);
      this.markRendered(started);
      await this.drawDeferred(ctx);
    }
  }

  /**
   * Goes to where a finding holds: its step, layer and dataset (through the selection, so the
   * address follows), then scrolls the panel that shows it into view and highlights it.
   */
  goToFinding(run, finding) {
    const runInfo = this.selection.catalog.find((r) => r.run === run) || null;
    this.selection.goTo({
      step: Number.isFinite(finding.step) ? finding.step : null,
      layer: finding.layer || null,
      dataset: finding.dataset || null,
    });
    const ids = targetPanels(finding.kind, runInfo);
    const entry = ids.map((id) => this.sections.find((e) => e.panel.id === id)).find((e) => e && !e.section.hidden);
    if (!entry) return;
    const { section } = entry;
    // Below the sticky cursor bar, not under it.
    section.style.scrollMarginTop = `${this.selectors.cursorBar.offsetHeight + 12}px`;
    const still = typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
    section.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
    section.setAttribute("tabindex", "-1");
    section.focus({ preventScroll: true });
    section.classList.remove("ki-flash");
    void section.offsetWidth; // restart the animation on a second click
    section.classList.add("ki-flash");
    clearTimeout(section.kiFlashTimer);
    section.kiFlashTimer = setTimeout(() => section.classList.remove("ki-flash"), 2000);
  }

  /** Draws the deferred panels of `ctx`'s cycle one by one, nearest to the view first. */
  async drawDeferred(ctx) {
    for (;;) {
      await idle();
      if (!ctx.isCurrent()) return;
      const waiting = this.sections.filter((entry) => entry.deferred === ctx);
      if (!waiting.length) return;
      const distance = (entry) => Math.abs(entry.section.getBoundingClientRect().top);
      const next = waiting.reduce((a, b) => (distance(b) < distance(a) ? b : a));
      next.deferred = null;
      await this.renderPanel(next, ctx);
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

  /** Whether some of `section` is in the visible part of the page. */
  inView(section) {
    const box = section.getBoundingClientRect();
    const height = window.innerHeight || document.documentElement.clientHeight;
    return box.bottom > 0 && box.top < height;
  }

  /** IntersectionObserver callback: a deferred panel scrolled into view is drawn at once. */
  onScroll(entries) {
    for (const { target, isIntersecting } of entries) {
      const entry = this.sections.find((e) => e.section === target);
      if (!entry) continue;
      const ctx = entry.deferred;
      if (!isIntersecting || !ctx) continue;
      entry.deferred = null;
      if (ctx.isCurrent()) this.renderPanel(entry, ctx);
    }
  }

  async renderPanel(entry, ctx) {
    const { panel, section, body } = entry;
    const started = performance.now();
    const runs = ctx.runs.filter((run) => panelAvailable(panel, run));
    section.classList.toggle("ki-unavailable", runs.length === 0);
    section.dataset.kiState = "drawing";
    if (!runs.length) {
      removeCharts(body);
      setMessage(body, "note", "");
      setMessage(body, "error", "");
      setMessage(body, "hint", ctx.runs.length ? panelHint(panel) : "Select a run to see this panel.");
    } else {
      setMessage(body, "hint", "");
      setMessage(body, "error", "");
      try {
        // redraw(): the panel's own choices (e.g. which runs) draw it again in this cycle.
        await panel.render(body, { ...ctx, runs, redraw: () => this.renderPanel(entry, ctx) });
      } catch (error) {
        if (ctx.isCurrent()) setMessage(body, "error", `Could not draw this panel: ${errorText(error)}`);
      }
    }
    if (ctx.isCurrent()) {
      section.dataset.kiState = "drawn";
      // For the latency benchmark: when each panel was drawn (user timing, no cost otherwise).
      performance.measure(`ki-panel ${panel.id}`, { start: started, end: performance.now() });
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

/**
 * Builds the dashboard inside <div id="ki-root"> (created if absent). Safe to call once.
 * `firstRuns`, when given, is a fetch() of ./runs already under way (see ../index.js).
 */
export async function start(firstRuns = null) {
  if (dashboard) return;
  let root = document.getElementById("ki-root");
  if (!root) {
    root = el("div", { attrs: { id: "ki-root" } });
    document.body.append(root);
  }
  dashboard = new Dashboard(root);
  try {
    await dashboard.start(firstRuns);
  } catch (error) {
    root.append(el("p", { className: "ki-error", text: `The dashboard failed to start: ${errorText(error)}` }));
  }
}
