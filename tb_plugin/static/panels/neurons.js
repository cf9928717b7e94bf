// Figs. 3-6 of Guo et al.: the mean and the standard deviation of each unit's output for the
// chosen layer at the chosen checkpoint, one bar per unit. One subplot row per run (bars in the
// run's colour, or the dataset's when one run is shown); within a row one bar trace per dataset, nested: the first shown dataset is the
// widest and palest bar, each further dataset a narrower, more opaque bar drawn in front, so a
// unit whose value differs between datasets shows as a step between the nested bars.
//
// Layers wider than MAX_BAR_UNITS are drawn as step lines instead (one per dataset, dash =
// dataset as in the line charts, the first dataset filled): their bars would be a few pixels
// wide, and Plotly draws one SVG element per bar (4 runs x 3 datasets x 256 units = 3,072, which
// took 100-180 ms a chart against 30-60 ms for the step lines in Chromium here).

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid, traceName } from "../charts.js";
import { allFailed, byOrder, checkpointFor, failureText, flatValues, indices, joinNotes, perRun, runWindow } from "../panel_kit.js";

const CHARTS = [
  { quantity: "neuron_mean", axis: "mean output" },
  { quantity: "neuron_std", axis: "std of output" },
];
// Grouped bars of more runs than this are unreadable (and slow): the first ones are drawn.
export const MAX_RUNS = 4;
export const MAX_BAR_UNITS = 64;

/** Width and opacity of the bar of the dataset at `position` among `count` nested datasets. */
export function nestedBar(position, count) {
  if (count <= 1) return { width: 0.8, opacity: 0.9 };
  return {
    width: 0.85 * (1 - position / count),
    opacity: 0.3 + (0.7 * position) / (count - 1),
  };
}

/** `#rrggbb` with an alpha channel, as Plotly's rgba(). */
function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * The trace of one (run, dataset) cell: a nested bar, or a step line for a wide layer. `style`
 * is ctx.traceStyle's {color, dash} for the pair.
 */
export function unitTrace(run, cell, quantity, { position, count, style }) {
  const y = flatValues(cell);
  const common = {
    x: indices(y.length),
    y,
    name: traceName(run, cell.dataset),
    meta: { run, dataset: cell.dataset, layer: cell.layer, quantity },
    hovertemplate: "%{fullData.name}: %{y:.4g}<extra></extra>",
  };
  if (y.length > MAX_BAR_UNITS) {
    const color = style.color;
    return {
      ...common,
      type: "scatter",
      mode: "lines",
      line: { shape: "hvh", color, width: 1.25, dash: style.dash },
      fill: position === 0 ? "tozeroy" : "none",
      fillcolor: withAlpha(color, 0.2),
    };
  }
  const { width, opacity } = nestedBar(position, count);
  return {
    ...common,
    type: "bar",
    width,
    textposition: "none",
    marker: { color: style.color, opacity, line: { width: 0 } },
  };
}

export default {
  id: "neurons",
  title: "Neuron mean and std",
  description: "Per-unit mean and standard deviation of the chosen layer's output at the chosen checkpoint (Guo et al., Figs. 3-6). Datasets are nested bars (the first shown dataset widest and palest), or step lines dashed by dataset for layers of more than 64 units.",
  quantities: CHARTS.map((c) => c.quantity),
  wide: true,

  async render(container, ctx) {
    const layer = ctx.state.layer;
    const step = ctx.state.step;
    const withLayer = ctx.runs.filter((r) => r.layers.includes(layer));
    const runs = runWindow(container, ctx, withLayer, MAX_RUNS);
    const missing = new Set();
    const jobs = [];
    for (const run of runs) {
      for (const { quantity } of CHARTS) {
        if (run.quantities.includes(quantity)) jobs.push({ run, quantity });
      }
    }
    const { ok, failed } = await perRun(jobs, async (job) => {
      // layer_std is recorded with the neuron statistics: it tells which layers/steps exist.
      const step = await checkpointFor(ctx, job.run, "layer_std", { layer });
      if (step === null) {
        missing.add(job.run.run);
        return undefined;
      }
      return ctx.model.fetchValues(job.run.run, job.quantity, step, { layer });
    });
    if (!ctx.isCurrent()) return;
    const notes = [
      withLayer.length < ctx.runs.length ? `${ctx.runs.length - withLayer.length} run(s) have no layer "${layer}"` : "",
      missing.size ? `${missing.size} run(s) have no neuron statistics for ${layer} at or before step ${step}` : "",
    ];
    const failedRuns = failed.map(({ run, error }) => ({ run: run.run, error }));
    if (allFailed(container, ok.length, failedRuns, joinNotes(...notes) || `No neuron statistics for layer "${layer}".`)) return;

    const shown = new Set(ctx.state.datasets);
    const drawn = [];
    const draws = [];
    for (const { quantity, axis } of CHARTS) {
      const results = ok.filter(({ run }) => run.quantity === quantity);
      if (!results.length) continue;
      // One subplot row per run (colour = run), datasets as nested bars (width/opacity = dataset).
      const runNames = [...new Set(results.map(({ run }) => run.run.run))];
      const grid = subplotGrid(runNames, { cols: 1, yGap: runNames.length > 1 ? 0.12 : 0 });
      const traces = [];
      for (const { run, value } of results) {
        const k = runNames.indexOf(run.run.run);
        const cells = (value.cells || []).filter((cell) => shown.has(cell.dataset) && cell.layer === layer);
        const order = ctx.datasetOrder.filter((d) => cells.some((cell) => cell.dataset === d));
        for (const cell of byOrder(cells, order, (c) => c.dataset)) {
          const trace = unitTrace(run.run.run, cell, quantity, {
            position: order.indexOf(cell.dataset),
            count: order.length,
            style: ctx.traceStyle(run.run.run, cell.dataset),
          });
          trace.xaxis = `x${grid.suffixes[k]}`;
          trace.yaxis = `y${grid.suffixes[k]}`;
          traces.push(trace);
        }
      }
      drawn.push(quantity);
      const layout = {
        ...grid.layout,
        barmode: "overlay",
        hovermode: "x",
        margin: { l: 60, r: 16, t: runNames.length > 1 ? 26 : 12, b: 44 },
      };
      const units = Math.max(0, ...traces.map((t) => t.y.length));
      grid.suffixes.forEach((suffix, k) => {
        layout[`xaxis${suffix}`].showgrid = false;
        if (units && units <= 32) Object.assign(layout[`xaxis${suffix}`], { dtick: 1, range: [-0.5, units - 0.5] });
        if (k === grid.suffixes.length - 1) layout[`xaxis${suffix}`].title = axisTitle("unit");
        layout[`yaxis${suffix}`].title = axisTitle(axis);
      });
      const div = chartDiv(container, quantity);
      div.style.height = `${120 + 170 * runNames.length}px`;
      draws.push(draw(div, traces, layout, ctx));
    }
    removeCharts(container, drawn);
    const usedSteps = [...new Set(ok.map(({ value }) => value.step))];
    notes.unshift(failureText(failedRuns));
    notes.push(`layer ${layer} · checkpoint ${usedSteps.join(", ")}`);
    setMessage(container, "note", joinNotes(...notes));
    await Promise.all(draws);
  },
};
