// Figs. 3-6 of Guo et al.: the mean and the standard deviation of each unit's output for the
// chosen layer at the chosen checkpoint, one bar per unit, datasets overlaid (bar opacity and
// hatching tell datasets apart, colour tells runs apart).

import { axisTitle, chartDiv, draw, removeCharts, setMessage, traceName } from "../charts.js";
import { datasetStyle, runColor } from "../colors.js";
import { allFailed, failureText, flatValues, indices, joinNotes, perRun } from "../panel_kit.js";

const CHARTS = [
  { quantity: "neuron_mean", axis: "mean output" },
  { quantity: "neuron_std", axis: "std of output" },
];
// Grouped bars of more runs than this are unreadable (and slow): the first ones are drawn.
export const MAX_RUNS = 4;

function barTrace(ctx, run, cell, quantity) {
  const y = flatValues(cell);
  const style = datasetStyle(ctx.datasetIndex(cell.dataset));
  return {
    type: "bar",
    x: indices(y.length),
    y,
    name: traceName(run, cell.dataset),
    meta: { run, dataset: cell.dataset, layer: cell.layer, quantity },
    marker: {
      color: runColor(run),
      opacity: style.opacity,
      pattern: { shape: style.pattern, fgcolor: "#ffffff", size: 6, solidity: 0.3 },
      line: { width: 0 },
    },
    hovertemplate: "%{fullData.name}<br>unit %{x}<br>%{y:.4g}<extra></extra>",
  };
}

export default {
  id: "neurons",
  title: "Neuron mean and std",
  description: "Per-unit mean and standard deviation of the chosen layer's output at the chosen checkpoint, datasets overlaid (Guo et al., Figs. 3-6).",
  quantities: CHARTS.map((c) => c.quantity),
  wide: true,

  async render(container, ctx) {
    const layer = ctx.state.layer;
    const step = ctx.state.step;
    const withLayer = ctx.runs.filter((r) => r.layers.includes(layer));
    const runs = withLayer.slice(0, MAX_RUNS);
    const missing = [];
    const jobs = [];
    for (const run of runs) {
      const runStep = ctx.stepFor(run);
      if (runStep === null) {
        missing.push(run.run);
        continue;
      }
      for (const { quantity } of CHARTS) {
        if (run.quantities.includes(quantity)) jobs.push({ run, quantity, runStep });
      }
    }
    const { ok, failed } = await perRun(jobs, (job) => ctx.model.fetchValues(job.run.run, job.quantity, job.runStep, { layer }));
    if (!ctx.isCurrent()) return;
    const notes = [
      withLayer.length < ctx.runs.length ? `${ctx.runs.length - withLayer.length} run(s) have no layer "${layer}"` : "",
      withLayer.length > MAX_RUNS ? `showing the first ${MAX_RUNS} of ${withLayer.length} runs` : "",
      missing.length ? `${missing.length} run(s) have no checkpoint at or before step ${step}` : "",
    ];
    const failedRuns = failed.map(({ run, error }) => ({ run: run.run, error }));
    if (allFailed(container, ok.length, failedRuns, joinNotes(...notes) || `No neuron statistics for layer "${layer}".`)) return;

    const shown = new Set(ctx.state.datasets);
    const drawn = [];
    const draws = [];
    for (const { quantity, axis } of CHARTS) {
      const results = ok.filter(({ run }) => run.quantity === quantity);
      if (!results.length) continue;
      const traces = [];
      for (const { run, value } of results) {
        for (const cell of value.cells || []) {
          if (shown.has(cell.dataset) && cell.layer === layer) traces.push(barTrace(ctx, run.run.run, cell, quantity));
        }
      }
      drawn.push(quantity);
      const layout = {
        barmode: "group",
        bargap: 0.15,
        bargroupgap: 0,
        xaxis: { title: axisTitle("unit"), showgrid: false },
        yaxis: { title: axisTitle(axis) },
        margin: { l: 60, r: 16, t: 12, b: 44 },
      };
      draws.push(draw(chartDiv(container, quantity), traces, layout, ctx));
    }
    removeCharts(container, drawn);
    const usedSteps = [...new Set(ok.map(({ value }) => value.step))];
    notes.unshift(failureText(failedRuns));
    notes.push(`layer ${layer} · checkpoint ${usedSteps.join(", ")}`);
    setMessage(container, "note", joinNotes(...notes));
    await Promise.all(draws);
  },
};
