// The selection controls: run checkboxes (name as text + colour swatch), dataset checkboxes
// (name + line-style key), the focus-dataset and layer <select>s and the checkpoint slider.
// They reflect the Selection (sync) and drive it (event handlers); names only ever go through
// textContent, `value` properties and setAttribute.

import { dashArray, datasetStyle, runColor } from "./colors.js";
import { el } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The little line drawn beside a dataset's checkbox; styled by setDash(). */
function dashKey() {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "ki-dash");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "10");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG_NS, "line");
  line.setAttribute("x1", "1");
  line.setAttribute("x2", "25");
  line.setAttribute("y1", "5");
  line.setAttribute("y2", "5");
  line.setAttribute("stroke", "#333");
  line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

/** Shows style slot `index` on a key from dashKey(), or hides it (null: dataset not shown). */
function setDash(svg, index) {
  svg.style.visibility = index === null ? "hidden" : "";
  const dash = index === null ? "" : dashArray(datasetStyle(index).dash);
  const line = svg.firstChild;
  if (dash) line.setAttribute("stroke-dasharray", dash);
  else line.removeAttribute("stroke-dasharray");
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The element of sorted `steps` nearest to `value` (ties go to the earlier one). */
export function nearestStep(steps, value) {
  let best = steps[0];
  for (const s of steps) if (Math.abs(s - value) < Math.abs(best - value)) best = s;
  return best;
}

function gcd(a, b) {
  return b === 0 ? Math.abs(a) : gcd(b, a % b);
}

export class Selectors {
  constructor(selection) {
    this.selection = selection;
    this.lists = { runs: [], datasets: [], focus: [], layers: [] };

    this.runs = el("div", { attrs: { id: "ki-runs", role: "group", "aria-label": "Runs" }, className: "ki-checks" });
    this.datasets = el("div", { attrs: { id: "ki-datasets", role: "group", "aria-label": "Datasets" }, className: "ki-checks" });
    this.dataset = el("select", { attrs: { id: "ki-dataset" } });
    this.layer = el("select", { attrs: { id: "ki-layer" } });
    this.step = el("input", { attrs: { id: "ki-step", type: "range", min: "0", max: "0", step: "1", value: "0" } });
    this.stepLabel = el("output", { attrs: { id: "ki-step-label", for: "ki-step" } });
    const allButton = el("button", { attrs: { type: "button" }, className: "ki-link", text: "all" });
    const noneButton = el("button", { attrs: { type: "button" }, className: "ki-link", text: "none" });

    // Run and dataset chips scroll away with the page; the focus dataset, the layer and the
    // checkpoint slider stay at the top (sticky), as they drive every panel.
    this.controls = el("div", {
      attrs: { id: "ki-controls" },
      className: "ki-controls",
      children: [
        el("div", {
          className: "ki-control ki-control-runs",
          children: [
            el("div", { className: "ki-label", children: [el("span", { text: "Runs" }), allButton, noneButton] }),
            this.runs,
          ],
        }),
        el("div", {
          className: "ki-control ki-control-datasets",
          children: [el("div", { className: "ki-label", text: "Datasets shown" }), this.datasets],
        }),
      ],
    });
    this.cursorBar = el("div", {
      attrs: { id: "ki-cursor-bar" },
      className: "ki-controls ki-sticky",
      children: [
        el("label", {
          className: "ki-control",
          children: [el("span", { className: "ki-label", text: "Focus dataset" }), this.dataset],
        }),
        el("label", {
          className: "ki-control",
          children: [el("span", { className: "ki-label", text: "Layer" }), this.layer],
        }),
        el("div", {
          className: "ki-control ki-control-step",
          children: [
            el("label", { className: "ki-label", attrs: { for: "ki-step" }, text: "Checkpoint" }),
            el("div", { className: "ki-step-row", children: [this.step, this.stepLabel] }),
          ],
        }),
      ],
    });
    this.elements = [this.controls, this.cursorBar];

    allButton.addEventListener("click", () => selection.setAllRunsSelected(true));
    noneButton.addEventListener("click", () => selection.setAllRunsSelected(false));
    this.runs.addEventListener("change", (event) => {
      const input = event.target.closest("input[data-run]");
      if (input) selection.setRunSelected(input.getAttribute("data-run"), input.checked);
    });
    this.datasets.addEventListener("change", (event) => {
      const input = event.target.closest("input[data-dataset]");
      if (input) selection.setDatasetShown(input.getAttribute("data-dataset"), input.checked);
    });
    this.dataset.addEventListener("change", () => selection.setDataset(this.dataset.value));
    this.layer.addEventListener("change", () => selection.setLayer(this.layer.value));
    const onSlide = () => {
      const steps = selection.steps;
      if (steps.length) selection.setStep(nearestStep(steps, Number(this.step.value)));
      this.syncStep(); // snap the thumb back onto the checkpoint
    };
    this.step.addEventListener("input", onSlide);
    this.step.addEventListener("change", onSlide);
    this.step.addEventListener("keydown", (event) => this.onStepKey(event));
  }

  /** Arrow keys move by one checkpoint, PageUp/PageDown by ten, Home/End to the ends. */
  onStepKey(event) {
    const steps = this.selection.steps;
    if (!steps.length) return;
    const at = Math.max(0, steps.indexOf(this.selection.step));
    const moves = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 };
    let target = null;
    if (event.key in moves) target = Math.min(steps.length - 1, Math.max(0, at + moves[event.key]));
    else if (event.key === "Home") target = 0;
    else if (event.key === "End") target = steps.length - 1;
    if (target === null) return;
    event.preventDefault();
    this.selection.setStep(steps[target]);
    this.syncStep();
  }

  sync() {
    const sel = this.selection;
    this.syncRuns(sel);
    this.syncDatasets(sel);
    this.syncSelect(this.dataset, "focus", sel.availableDatasets, sel.dataset);
    this.syncSelect(this.layer, "layers", sel.availableLayers, sel.layer);
    this.syncStep();
  }

  syncRuns(sel) {
    const names = sel.allRunNames;
    if (!sameList(names, this.lists.runs)) {
      this.lists.runs = names;
      this.runs.replaceChildren(
        ...names.map((name) => {
          const input = el("input", { attrs: { type: "checkbox", "data-run": name } });
          const swatch = el("span", { className: "ki-swatch", attrs: { "aria-hidden": "true" } });
          swatch.style.backgroundColor = runColor(name);
          return el("label", {
            className: "ki-check",
            attrs: { title: name },
            children: [input, swatch, el("span", { className: "ki-name", text: name })],
          });
        }),
      );
    }
    const hidden = sel.hiddenRuns;
    for (const input of this.runs.querySelectorAll("input[data-run]")) {
      input.checked = !hidden.has(input.getAttribute("data-run"));
    }
  }

  syncDatasets(sel) {
    const names = sel.availableDatasets;
    if (!sameList(names, this.lists.datasets)) {
      this.lists.datasets = names;
      this.datasets.replaceChildren(
        ...names.map((name) =>
          el("label", {
            className: "ki-check",
            attrs: { title: name },
            children: [
              el("input", { attrs: { type: "checkbox", "data-dataset": name } }),
              dashKey(),
              el("span", { className: "ki-name", text: name }),
            ],
          }),
        ),
      );
    }
    const shown = new Set(sel.datasets);
    for (const input of this.datasets.querySelectorAll("input[data-dataset]")) {
      const name = input.getAttribute("data-dataset");
      input.checked = shown.has(name);
      input.disabled = name === sel.dataset; // the focus dataset is always drawn
      setDash(input.nextElementSibling, sel.styleIndex(name));
    }
  }

  syncSelect(select, key, names, value) {
    if (!sameList(names, this.lists[key])) {
      this.lists[key] = names;
      select.replaceChildren(
        ...names.map((name) => {
          const option = document.createElement("option");
          option.value = name;
          option.textContent = name;
          return option;
        }),
      );
    }
    select.disabled = names.length === 0;
    if (value !== null && value !== undefined) select.value = value;
  }

  syncStep() {
    const sel = this.selection;
    const steps = sel.steps;
    const input = this.step;
    if (!steps.length || sel.step === null) {
      input.disabled = true;
      this.stepLabel.textContent = "no checkpoints";
      return;
    }
    input.disabled = false;
    const first = steps[0];
    const last = steps[steps.length - 1];
    let stride = 0;
    for (let i = 1; i < steps.length; i += 1) stride = gcd(stride, steps[i] - steps[i - 1]);
    input.min = String(first);
    input.max = String(last);
    input.step = String(Number.isInteger(stride) && stride > 0 ? stride : 1);
    input.value = String(sel.step);
    const position = steps.indexOf(sel.step) + 1;
    this.stepLabel.textContent = `step ${sel.step} (${position}/${steps.length})`;
    input.setAttribute("aria-valuetext", `step ${sel.step}`);
  }
}
