// The selection controls: run checkboxes (name as text + colour swatch), dataset checkboxes
// (name + a key of their traces' colour, dash and symbol), the focus-dataset and layer
// <select>s and the checkpoint slider.
// They reflect the Selection (sync) and drive it (event handlers); names only ever go through
// textContent, `value` properties and setAttribute.

import { dashArray, runColor } from "./colors.js";
import { el } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * SVG path of a Plotly marker symbol of radius `r` centred at (cx, cy), for the key beside a
 * dataset's checkbox (the symbols of colors.js: circle, square, diamond, triangle-up, x, cross,
 * star, pentagon).
 */
export function symbolPath(symbol, cx, cy, r) {
  const polygon = (points) => `M${points.map(([x, y]) => `${(cx + x).toFixed(2)},${(cy + y).toFixed(2)}`).join("L")}Z`;
  const star = (n, inner) =>
    Array.from({ length: 2 * n }, (_, i) => {
      const radius = i % 2 ? r * inner : r;
      const angle = -Math.PI / 2 + (i * Math.PI) / n;
      return [radius * Math.cos(angle), radius * Math.sin(angle)];
    });
  const w = r * 0.35;
  switch (symbol) {
    case "square":
      return polygon([[-r * 0.85, -r * 0.85], [r * 0.85, -r * 0.85], [r * 0.85, r * 0.85], [-r * 0.85, r * 0.85]]);
    case "diamond":
      return polygon([[0, -r], [r, 0], [0, r], [-r, 0]]);
    case "triangle-up":
      return polygon([[0, -r], [r, r * 0.8], [-r, r * 0.8]]);
    case "cross":
      return polygon([[-w, -r], [w, -r], [w, -w], [r, -w], [r, w], [w, w], [w, r], [-w, r], [-w, w], [-r, w], [-r, -w], [-w, -w]]);
    case "x":
      return polygon([[-w, -r], [w, -r], [w, -w], [r, -w], [r, w], [w, w], [w, r], [-w, r], [-w, w], [-r, w], [-r, -w], [-w, -w]].map(([x, y]) => [(x - y) * 0.7071, (x + y) * 0.7071]));
    case "star":
      return polygon(star(5, 0.45));
    case "pentagon":
      return polygon(Array.from({ length: 5 }, (_, i) => [r * Math.cos(-Math.PI / 2 + (2 * Math.PI * i) / 5), r * Math.sin(-Math.PI / 2 + (2 * Math.PI * i) / 5)]));
    default:
      return `M${cx - r},${cy}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0Z`;
  }
}

/** The little line and marker drawn beside a dataset's checkbox; styled by setKey(). */
function datasetKey() {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "ki-dash");
  svg.setAttribute("width", "30");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG_NS, "line");
  line.setAttribute("x1", "1");
  line.setAttribute("x2", "29");
  line.setAttribute("y1", "6");
  line.setAttribute("y2", "6");
  line.setAttribute("stroke-width", "2");
  const marker = document.createElementNS(SVG_NS, "path");
  svg.append(line, marker);
  return svg;
}

/**
 * Shows the style of the dataset's traces on a key from datasetKey() (`style` from
 * Selection.traceStyle: colour, dash and symbol), or hides it (null: dataset not shown).
 */
function setKey(svg, style) {
  svg.style.visibility = style === null ? "hidden" : "";
  if (style === null) return;
  const [line, marker] = svg.children;
  const color = style.color || "#333";
  const dash = dashArray(style.dash);
  if (dash) line.setAttribute("stroke-dasharray", dash);
  else line.removeAttribute("stroke-dasharray");
  line.setAttribute("stroke", color);
  marker.setAttribute("d", symbolPath(style.symbol, 15, 6, 4.5));
  marker.setAttribute("fill", color);
  svg.dataset.color = color;
  svg.dataset.dash = style.dash;
  svg.dataset.symbol = style.symbol;
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
              datasetKey(),
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
      const slot = sel.styleIndex(name);
      // With several runs the colour is the run's: the key shows dash and symbol in grey.
      const style = slot === null ? null : sel.traceStyle(sel.runs[0] ?? "", name);
      setKey(input.nextElementSibling, style && !sel.colorByDataset ? { ...style, color: "#333" } : style);
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
