// Keras loss and metrics per run over steps, one subplot per metric; training solid,
// validation dashed. Clicking a point moves the checkpoint cursor (state.step) for every panel;
// the cursor is the dotted vertical line.

import { axisTitle, chartDiv, draw, hover, setMessage, stepLines, subplotGrid, traceName, stepAxis } from "../charts.js";
import { runColor } from "../colors.js";
import { allFailed, dataKey, failureText, perRun } from "../panel_kit.js";

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
  const rank = (n) => (n === "loss" ? 0 : 1);
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export default {
  id: "loss",
  title: "Loss and metrics",
  description: "Keras' loss and metrics per run (solid: training, dashed: validation). Click a point to move the checkpoint cursor for every panel.",
  quantities: [],
  wide: true,
  available: (run) => Array.isArray(run.logs) && run.logs.length > 0,
  hint: "No Keras loss or metrics were logged for the selected runs.",

  async render(container, ctx) {
    const { ok, failed } = await perRun(ctx.runs, (run) => ctx.model.fetchLogs(run.run));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    setMessage(container, "note", failureText(failed));
    const perRunMetrics = ok.map(({ run, value }) => ({ run: run.run, metrics: metricsOf(value.series || []) }));
    const names = metricOrder(new Set(perRunMetrics.flatMap((r) => [...r.metrics.keys()])));
    // Metric names label the y axes (no subplot titles needed).
    const grid = subplotGrid(names.map(() => null), { cols: Math.min(names.length, 3), yGap: 0.2 });
    const traces = [];
    names.forEach((metric, k) => {
      const suffix = grid.suffixes[k];
      for (const { run, metrics } of perRunMetrics) {
        const slot = metrics.get(metric);
        if (!slot) continue;
        for (const kind of [TRAIN, VALIDATION]) {
          const s = slot[kind];
          if (!s) continue;
          traces.push({
            type: "scatter",
            mode: s.steps.length <= 60 ? "lines+markers" : "lines",
            x: s.steps,
            y: s.values,
            name: traceName(run, kind === TRAIN ? metric : `val_${metric}`),
            meta: { run, metric, kind },
            xaxis: `x${suffix}`,
            yaxis: `y${suffix}`,
            line: { color: runColor(run), width: 2, dash: kind === TRAIN ? "solid" : "dash" },
            marker: { color: runColor(run), size: 5, symbol: kind === TRAIN ? "circle" : "circle-open" },
            hovertemplate: hover("step", "value"),
          });
        }
      }
    });
    const div = chartDiv(container, "loss");
    div.style.height = `${Math.max(1, grid.rows) * 280}px`;
    const layout = {
      ...grid.layout,
      shapes: stepLines(ctx.state.step, grid.suffixes),
      margin: { l: 60, r: 16, t: 16, b: 44 },
    };
    names.forEach((metric, k) => {
      const suffix = grid.suffixes[k];
      Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
      layout[`yaxis${suffix}`].title = axisTitle(metric);
    });
    await draw(div, traces, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx) });
  },
};
