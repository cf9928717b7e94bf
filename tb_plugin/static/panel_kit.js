// Small helpers shared by the panel modules: per-run fetching that survives partial failures,
// series lookups at a step, and trace builders that apply the colour scheme (colors.js).

import { MARKER_POINTS, MAX_MARKERS, needsSymbols } from "./colors.js";
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
 * A line trace for one (run, dataset) pair, styled by ctx.traceStyle (colour by run, or by
 * dataset when one run is shown; dash and marker symbol by dataset). `suffix` picks the
 * subplot ("" = x/y). `label` overrides the dataset part of the name. Raw (unescaped) names are
 * kept in `meta` for whoever reads the trace data.
 */
export function lineTrace(ctx, { run, dataset, x, y, suffix = "", label, xLabel = "step", yLabel = "value", dash, extra = {} }) {
  const style = ctx.traceStyle(run, dataset);
  const symbols = needsSymbols(ctx.state.datasets.length, ctx.colorByDataset);
  return {
    type: "scatter",
    mode: symbols || x.length <= MARKER_POINTS ? "lines+markers" : "lines",
    x,
    y,
    name: traceName(run, label ?? dataset),
    meta: { run, dataset, ...extra },
    xaxis: `x${suffix}`,
    yaxis: `y${suffix}`,
    connectgaps: false,
    line: { color: style.color, width: 2, dash: dash ?? style.dash },
    marker: { color: style.color, size: 6, symbol: style.symbol, maxdisplayed: MAX_MARKERS },
    hovertemplate: hover(xLabel, yLabel),
  };
}

/** Whether `run` recorded `quantity` for `layer` (/runs' quantity_layers; else its layers). */
export function hasLayer(run, quantity, layer) {
  const layers = run.quantityLayers && run.quantityLayers[quantity];
  return run.quantities.includes(quantity) && (Array.isArray(layers) ? layers : run.layers).includes(layer);
}

/**
 * Whether `run` is a regression run: its probes are ridge probes scored by R² (a continuous
 * target), and it has no classification probe.
 */
export function isRegression(run) {
  const q = run.quantities || [];
  return q.includes("probe_r2") && !q.includes("probe_auc");
}

/** Whether every run of `runs` (at least one) is a regression run. */
export function allRegression(runs) {
  return runs.length > 0 && runs.every(isRegression);
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
 * The panels' own choices ("panel.key" -> value) that the user made or the page address named:
 * kept in the address by the dashboard (url_state.js), which sets `changed` to hear of them.
 */
export const choiceMemory = { values: new Map(), changed: null };

function choiceKey(container, key) {
  const section = container.closest && container.closest("section[data-panel]");
  return section ? `${section.dataset.panel}.${key}` : null;
}

/** The remembered value of choice `key` of the panel holding `container` (or undefined). */
export function rememberedChoice(container, key) {
  const memoryKey = choiceKey(container, key);
  return memoryKey ? choiceMemory.values.get(memoryKey) : undefined;
}

/** Remembers the user's value of choice `key` (for the page address). */
export function rememberChoice(container, key, value) {
  const memoryKey = choiceKey(container, key);
  if (!memoryKey) return;
  choiceMemory.values.set(memoryKey, String(value));
  if (choiceMemory.changed) choiceMemory.changed();
}

/**
 * A labelled <select> at the top of a panel body, made once per `key` and kept across renders
 * (so the user's choice survives them). `options` is [{value, text}]; the current choice is
 * kept when still offered, else the one remembered in choiceMemory (from the page address),
 * else `fallback` (or the first option). Returns the chosen value; `onChange(value)` runs when
 * the user picks another.
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
  const current = select.options.length ? select.value : rememberedChoice(container, key);
  select.replaceChildren(...options.map((o) => el("option", { text: o.text, attrs: { value: o.value } })));
  const values = options.map((o) => o.value);
  select.value = values.includes(current) ? current : values.includes(fallback) ? fallback : values[0] ?? "";
  select.onchange = () => {
    rememberChoice(container, key, select.value);
    onChange(select.value);
  };
  return select.value;
}

/** Removes the panel choice `key` made by panelChoice (when it no longer applies). */
export function dropChoice(container, key) {
  const wrap = container.querySelector(`:scope > .ki-choices > [data-choice="${key}"]`);
  if (!wrap) return;
  const row = wrap.parentElement;
  wrap.remove();
  if (!row.children.length) row.remove();
}

/**
 * The runs a panel that draws at most `max` of them shows. When more are selected, a visible
 * "runs" choice offers them `max` at a time (consecutive groups, in selection order), so no run
 * is ever dropped silently; picking another group redraws the panel (ctx.redraw). Returns the
 * runs to draw.
 */
export function runWindow(container, ctx, runs, max) {
  if (runs.length <= max) {
    dropChoice(container, "runs");
    return runs;
  }
  const groups = [];
  for (let i = 0; i < runs.length; i += max) groups.push(runs.slice(i, i + max));
  const options = groups.map((group, i) => ({
    value: String(i),
    text: `${i * max + 1}-${i * max + group.length}: ${group.map((r) => r.run).join(", ")}`,
  }));
  const chosen = panelChoice(container, "runs", `runs (${max} of ${runs.length} at a time)`, options, () => {
    if (ctx.isCurrent() && ctx.redraw) ctx.redraw();
  });
  return groups[Number(chosen)] || groups[0];
}

/**
 * TensorBoard's smoothing of a series over steps: an exponential moving average with weight
 * `weight` (0 = none), debiased so the first points are not pulled towards 0. Non-finite values
 * are passed through and do not disturb the average.
 */
export function smoothed(values, weight) {
  if (!(weight > 0)) return values;
  let last = 0;
  let total = 0;
  return values.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    total = total * weight + (1 - weight);
    return last / total;
  });
}

export const SCALES = [
  { value: "linear", text: "linear" },
  { value: "log", text: "log" },
];
export const SMOOTHINGS = [
  { value: "0", text: "off" },
  { value: "0.6", text: "0.6" },
  { value: "0.9", text: "0.9" },
];

/**
 * The "y scale" and "smoothing" choices of a panel with charts over steps (kept per panel, and
 * in the page address). Returns {log, smoothing}.
 */
export function stepChoices(container, ctx) {
  const redraw = () => {
    if (ctx.isCurrent() && ctx.redraw) ctx.redraw();
  };
  const scale = panelChoice(container, "scale", "y scale", SCALES, redraw, "linear");
  const smoothing = panelChoice(container, "smoothing", "smoothing", SMOOTHINGS, redraw, "0");
  return { log: scale === "log", smoothing: Number(smoothing) };
}

/**
 * Applies stepChoices() to a chart over steps: each line trace is smoothed, its raw values kept
 * as a faint line behind it (as TensorBoard draws them); every y axis becomes logarithmic (a
 * fixed linear range, such as the AUC axis's, is dropped). Returns the new traces.
 */
export function withStepChoices(traces, layout, { log, smoothing }) {
  if (log) {
    for (const key of Object.keys(layout)) {
      if (/^yaxis\d*$/.test(key)) {
        const { range, rangemode, ...axis } = layout[key];
        layout[key] = { ...axis, type: "log" };
      }
    }
  }
  if (!(smoothing > 0)) return traces;
  const out = [];
  for (const trace of traces) {
    if (trace.type !== "scatter" || !Array.isArray(trace.y)) {
      out.push(trace);
      continue;
    }
    out.push({
      ...trace,
      mode: "lines",
      y: trace.y,
      line: { ...trace.line, width: 1 },
      opacity: 0.25,
      hoverinfo: "skip",
      hovertemplate: undefined,
      showlegend: false,
      meta: { ...(trace.meta || {}), decoration: true },
    });
    out.push({ ...trace, y: smoothed(trace.y, smoothing), meta: { ...(trace.meta || {}), smoothing } });
  }
  return out;
}
