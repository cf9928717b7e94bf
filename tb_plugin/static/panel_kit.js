// Small helpers shared by the panel modules: per-run fetching that survives partial failures,
// series lookups at a step, and trace builders that apply the colour scheme (colors.js).

import { datasetStyle, runColor } from "./colors.js";
import { hover, removeCharts, setMessage, subplotGrid, traceName } from "./charts.js";
import { el, errorText } from "./dom.js";
import { stepAtOrBefore } from "./state.js";

/**
 * Runs `fn(runInfo)` for every run in parallel. Returns {ok: [{run, value}], failed:
 * [{run, error}]}, both in the order of `runs`; `fn` may return undefined to skip a run.
 */
export async function perRun(runs, fn) {
  const settled = await Promise.allSettled(runs.map((run) => fn(run)));
  const ok = [];
  const failed = [];
  settled.forEach((result, i) => {
    if (result.status === "fulfilled") {
      if (result.value !== undefined) ok.push({ run: runs[i], value: result.value });
    } else {
      failed.push({ run: runs[i], error: result.reason });
    }
  });
  return { ok, failed };
}

/** One line describing failed runs, or "" when none failed. */
export function failureText(failed) {
  if (!failed.length) return "";
  const first = failed[0];
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more run${failed.length > 2 ? "s" : ""})` : "";
  return `Could not load ${first.run.run}: ${errorText(first.error)}${more}`;
}

/** The value of a (steps, values) series at the latest step <= `step`, or null. */
export function valueAt(steps, values, step) {
  if (step === null || step === undefined) return null;
  let found = null;
  for (let i = 0; i < steps.length; i += 1) {
    if (steps[i] <= step) found = values[i];
    else break;
  }
  return found === undefined ? null : found;
}

export { stepAtOrBefore };

const flatCache = new WeakMap();

/** A cell's nested `values` flattened to one array (memoised per cell object). */
export function flatValues(cell) {
  if (!flatCache.has(cell)) {
    const values = Array.isArray(cell.values) ? cell.values.flat(Infinity) : [cell.values];
    flatCache.set(cell, values);
  }
  return flatCache.get(cell);
}

const indexCache = new Map();

/** [0, 1, ..., n-1], shared between calls so Plotly.react sees an unchanged array. */
export function indices(n) {
  if (!indexCache.has(n)) indexCache.set(n, Array.from({ length: n }, (_, i) => i));
  return indexCache.get(n);
}

/** Sorts `items` by the position of `key(item)` in `order` (unknown keys last, stable). */
export function byOrder(items, order, key) {
  const rank = new Map(order.map((name, i) => [name, i]));
  return [...items].sort((a, b) => (rank.get(key(a)) ?? 1e9) - (rank.get(key(b)) ?? 1e9));
}

/**
 * A line trace for one (run, dataset) pair: colour from the run, dash and marker from the
 * dataset. `suffix` picks the subplot ("" = x/y). `label` overrides the dataset part of the name.
 * Raw (unescaped) names are kept in `meta` for whoever reads the trace data.
 */
export function lineTrace(ctx, { run, dataset, x, y, suffix = "", label, xLabel = "step", yLabel = "value", dash, extra = {} }) {
  const style = datasetStyle(ctx.datasetIndex(dataset));
  const markers = x.length <= 60;
  return {
    type: "scatter",
    mode: markers ? "lines+markers" : "lines",
    x,
    y,
    name: traceName(run, label ?? dataset),
    meta: { run, dataset, ...extra },
    xaxis: `x${suffix}`,
    yaxis: `y${suffix}`,
    connectgaps: false,
    line: { color: runColor(run), width: 2, dash: dash ?? style.dash },
    marker: { color: runColor(run), size: 5, symbol: style.symbol },
    hovertemplate: hover(xLabel, yLabel),
  };
}

/** Whether `run` recorded `quantity` for `layer` (/runs' quantity_layers; else its layers). */
export function hasLayer(run, quantity, layer) {
  const layers = run.quantityLayers && run.quantityLayers[quantity];
  return run.quantities.includes(quantity) && (Array.isArray(layers) ? layers : run.layers).includes(layer);
}

/** Joins the non-empty parts of a panel's note line. */
export function joinNotes(...parts) {
  return parts.filter(Boolean).join(" · ");
}

/**
 * Shows that nothing could be loaded: one error line, no charts. Returns true when that was the
 * case (`okCount` is 0), so a panel can `if (allFailed(...)) return;`.
 */
export function allFailed(container, okCount, failed, emptyText = "") {
  if (okCount > 0) return false;
  removeCharts(container);
  setMessage(container, "note", "");
  if (failed.length) setMessage(container, "error", failureText(failed));
  else setMessage(container, "note", emptyText);
  return true;
}

/**
 * Key of what an over-steps chart's traces depend on (data version, runs, datasets, extras): an
 * unchanged key on a step change lets draw() only move the cursor.
 */
export function dataKey(ctx, ...extra) {
  return JSON.stringify([ctx.dataVersion, ctx.runs.map((r) => r.run), ctx.state.datasets, ...extra]);
}

// Above this many runs, per-layer small multiples draw only the focus dataset.
export const SMALL_MULTIPLE_RUNS = 4;

/** Datasets drawn in per-layer small multiples: all shown ones, or the focus one for many runs. */
export function smallMultipleDatasets(ctx) {
  return ctx.runs.length > SMALL_MULTIPLE_RUNS ? [ctx.state.dataset] : ctx.state.datasets;
}

/**
 * The checkpoint at which to ask /values for an array quantity, checked against a scalar
 * "companion" recorded alongside it (neuron_* with layer_std, correlation_matrix with
 * correlation_mean_abs, model_score_histogram with model_auc), so the dashboard does not request
 * cells that do not exist (a 404, and a console error in the browser). Returns the step, or null
 * when the companion shows there is nothing for this dataset/layer at or before state.step.
 * Without the companion (or if it cannot be read) it falls back to the run's own checkpoints.
 */
export async function checkpointFor(ctx, run, companion, { dataset, layer } = {}) {
  const fallback = ctx.stepFor(run);
  if (fallback === null) return null;
  if (!run.quantities.includes(companion)) return fallback;
  let answer;
  try {
    answer = await ctx.model.fetchScalars(run.run, companion, {
      datasets: dataset !== undefined ? [dataset] : undefined,
      layers: layer !== undefined ? [layer] : undefined,
      step: ctx.state.step, // only the point at the cursor is looked at
    });
  } catch (_) {
    return fallback;
  }
  let best = null;
  for (const s of answer.series || []) {
    if (dataset !== undefined && s.dataset !== dataset) continue;
    if (layer !== undefined && s.layer !== layer) continue;
    const at = stepAtOrBefore(s.steps || [], ctx.state.step);
    if (at !== null && (best === null || at > best)) best = at;
  }
  return best;
}

/**
 * Small multiples over steps, one subplot per layer (model order): a line per (run, shown
 * dataset) of a per-layer scalar quantity such as mean |correlation| or dead fraction.
 */
export function perLayerTraces(ctx, results, yLabel) {
  const shown = new Set(smallMultipleDatasets(ctx));
  const layers = ctx.layers.filter((layer) =>
    results.some(({ value }) => (value.series || []).some((s) => s.layer === layer)),
  );
  const rows = Math.ceil(layers.length / Math.min(Math.max(layers.length, 1), 5));
  // Callers draw rows of 250 px: a gap of ~75 px between them (tick labels, axis and subplot titles).
  const grid = subplotGrid(layers, { cols: Math.min(layers.length, 5), yGap: 0.3 / Math.max(1, rows) });
  const traces = [];
  layers.forEach((layer, k) => {
    for (const { run, value } of results) {
      for (const s of value.series || []) {
        if (s.layer !== layer || !shown.has(s.dataset)) continue;
        traces.push(
          lineTrace(ctx, {
            run: run.run,
            dataset: s.dataset,
            x: s.steps,
            y: s.values,
            suffix: grid.suffixes[k],
            yLabel,
            extra: { layer },
          }),
        );
      }
    }
  });
  return { traces, grid, layers };
}

/**
 * A labelled <select> at the top of a panel body, made once per `key` and kept across renders
 * (so the user's choice survives them). `options` is [{value, text}]; the current choice is
 * kept when still offered, else `fallback` (or the first option). Returns the chosen value;
 * `onChange(value)` runs when the user picks another.
 */
export function panelChoice(container, key, label, options, onChange, fallback) {
  let wrap = container.querySelector(`:scope > .ki-choices > [data-choice="${key}"]`);
  if (!wrap) {
    let row = container.querySelector(":scope > .ki-choices");
    if (!row) {
      row = el("div", { className: "ki-choices" });
      container.prepend(row);
    }
    const select = el("select", { attrs: { "aria-label": label } });
    wrap = el("label", { className: "ki-choice", attrs: { "data-choice": key }, children: [el("span", { text: `${label} ` }), select] });
    row.append(wrap);
  }
  const select = wrap.querySelector("select");
  const current = select.value;
  select.replaceChildren(...options.map((o) => el("option", { text: o.text, attrs: { value: o.value } })));
  const values = options.map((o) => o.value);
  select.value = values.includes(current) ? current : values.includes(fallback) ? fallback : values[0] ?? "";
  select.onchange = () => onChange(select.value);
  return select.value;
}
