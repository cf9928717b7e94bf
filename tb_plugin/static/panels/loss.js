// Keras loss and metrics per run over steps. Each metric gets a subplot, its validation copy
// the subplot beside it on the same y range ("loss" | "val_loss"): dashes mean "another dataset"
// everywhere else in the tab, so training and validation are told apart by place, not by dash.
// A series that never changes (a fixed learning rate) is a note, not a chart. Clicking a point
// moves the checkpoint cursor (state.step) for every panel; the cursor is the dotted line.

import { axisTitle, chartDiv, draw, hover, setMessage, stepLines, subplotGrid, traceName, stepAxis } from "../charts.js";
import { MARKER_POINTS, runColor } from "../colors.js";
import { allFailed, dataKey, failureText, joinNotes, perRun, stepChoices, withStepChoices } from "../panel_kit.js";

const TRAIN = "training";
const VALIDATION = "validation";

/**
 * Splits a run's /logs series into {metric -> {training, validation}} (each a {steps, values}).
 * The callback's own copies (source "inspect", validation named "val_<metric>") are preferred;
 * Keras' TensorBoard callback copies (sources "train" / "validation") fill what is missing.
 */
export function metricsOf(series) {
  const metrics = new Map();
  const put = (name, kind, s) => {
    if (!metrics.has(name)) metrics.set(name, {});
    const slot = metrics.get(name);
    if (!slot[kind]) slot[kind] = s;
  };
  for (const s of series.filter((s) => s.source === "inspect")) {
    if (s.name.startsWith("val_")) put(s.name.slice(4), VALIDATION, s);
    else put(s.name, TRAIN, s);
  }
  for (const s of series.filter((s) => s.source === "train")) put(s.name, TRAIN, s);
  for (const s of series.filter((s) => s.source === "validation")) put(s.name, VALIDATION, s);
  return metrics;
}

function metricOrder(names) {
  const rank = (n) => (n === "loss" ? 0 : n === "learning_rate" || n === "lr" ? 2 : 1);
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether every value of every series is the same finite number (nothing to draw over steps). */
export function constantValue(seriesList) {
  const values = seriesList.flatMap((s) => s.values || []).filter((v) => v !== null && v !== undefined);
  if (!values.length || !values.every((v) => v === values[0] && Number.isFinite(v))) return null;
  return values[0];
}

/**
 * The subplots of the panel: [{title, metric, kind}] in order, a metric's validation copy right
 * after it, and the constant metrics apart ({metric, value}).
 */
export function lossPanels(perRunMetrics) {
  const names = metricOrder(new Set(perRunMetrics.flatMap((r) => [...r.metrics.keys()])));
  const panels = [];
  const constant = [];
  for (const metric of names) {
    const slots = perRunMetrics.map((r) => r.metrics.get(metric)).filter(Boolean);
    const all = slots.flatMap((slot) => [slot[TRAIN], slot[VALIDATION]].filter(Boolean));
    const value = constantValue(all);
    if (value !== null && all.every((s) => s.values.length > 1)) {
      constant.push({ metric, value });
      continue;
    }
    if (slots.some((slot) => slot[TRAIN])) panels.push({ title: metric, metric, kind: TRAIN });
    if (slots.some((slot) => slot[VALIDATION])) panels.push({ title: `val_${metric}`, metric, kind: VALIDATION });
  }
  return { panels, constant };
}

export default {
  id: "loss",
  title: "Loss and metrics",
  description: "Keras' loss and metrics per run, each validation metric beside its training one on the same scale. Click a point to move the checkpoint cursor for every panel.",
  quantities: [],
  available: (run) => Array.isArray(run.logs) && run.logs.length > 0,
  hint: "No Keras loss or metrics were logged for the selected runs.",

  async render(container, ctx) {
    const { ok, failed } = await perRun(ctx.runs, (run) => ctx.model.fetchLogs(run.run));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    const perRunMetrics = ok.map(({ run, value }) => ({ run: run.run, metrics: metricsOf(value.series || []) }));
    const { panels, constant } = lossPanels(perRunMetrics);
    const paired = panels.some((p) => p.kind === VALIDATION);
    const grid = subplotGrid(panels.map(() => null), { cols: paired ? 2 : Math.min(panels.length, 2), yGap: 0.24, xGap: 0.12 });
    const traces = [];
    panels.forEach(({ metric, kind, title }, k) => {
      const suffix = grid.suffixes[k];
      for (const { run, metrics } of perRunMetrics) {
        const s = metrics.get(metric) && metrics.get(metric)[kind];
        if (!s) continue;
        const color = runColor(run);
        traces.push({
          type: "scatter",
          mode: s.steps.length <= MARKER_POINTS ? "lines+markers" : "lines",
          x: s.steps,
          y: s.values,
          name: traceName(run, title),
          meta: { run, metric, kind },
          xaxis: `x${suffix}`,
          yaxis: `y${suffix}`,
          line: { color, width: 2 },
          marker: { color, size: 5 },
          hovertemplate: hover("step", title),
        });
      }
    });
    const div = chartDiv(container, "loss");
    div.style.height = `${Math.max(1, grid.rows) * 210}px`;
    const layout = {
      ...grid.layout,
      shapes: stepLines(ctx.state.step, grid.suffixes),
      margin: { l: 60, r: 12, t: 8, b: 40 },
    };
    panels.forEach(({ metric, kind, title }, k) => {
      const suffix = grid.suffixes[k];
      Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
      layout[`yaxis${suffix}`].title = axisTitle(title);
      // A validation metric shares the y range of its training metric: same scale, side by side.
      const partner = panels.findIndex((p) => p.metric === metric && p.kind === TRAIN);
      if (kind === VALIDATION && partner >= 0) layout[`yaxis${suffix}`].matches = `y${grid.suffixes[partner]}`;
    });
    const choices = stepChoices(container, ctx);
    const drawn = withStepChoices(traces, layout, choices);
    const constants = constant.map(({ metric, value }) => `${metric} constant at ${Number(value.toPrecision(4))}`);
    setMessage(container, "note", joinNotes(failureText(failed), ...constants));
    await draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, choices) });
  },
};
