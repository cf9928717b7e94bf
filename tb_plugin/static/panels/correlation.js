// Fig. 8 of Guo et al.: mean |correlation| between the units of each layer over training (one
// subplot per layer, colour = run, line style = dataset), and the correlation matrix of the
// chosen layer on the focus dataset at the chosen checkpoint; with two or more runs selected the
// matrices of the first two are shown side by side.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, stepLines, subplotGrid, stepAxis } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, dataKey, failureText, joinNotes, perLayerTraces, perRun, SMALL_MULTIPLE_RUNS, smallMultipleDatasets } from "../panel_kit.js";

const MEAN = "correlation_mean_abs";
const MATRIX = "correlation_matrix";
const MAX_MATRICES = 2;
// Blue (-1) - white (0) - red (+1).
const DIVERGING = [
  [0, "#2166ac"],
  [0.25, "#67a9cf"],
  [0.5, "#f7f7f7"],
  [0.75, "#ef8a62"],
  [1, "#b2182b"],
];

async function meanAbs(ctx) {
  const runs = ctx.runs.filter((r) => r.quantities.includes(MEAN));
  // Only the datasets the small multiples draw are fetched.
  const datasets = smallMultipleDatasets(ctx);
  const { ok, failed } = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, MEAN, { datasets }));
  return { ok, failed };
}

async function matrices(ctx) {
  const { layer, dataset } = ctx.state;
  const runs = ctx.runs
    .filter((r) => r.quantities.includes(MATRIX) && r.layers.includes(layer) && r.datasets.includes(dataset))
    .slice(0, MAX_MATRICES);
  const missing = [];
  const { ok, failed } = await perRun(runs, async (run) => {
    const step = await checkpointFor(ctx, run, MEAN, { dataset, layer });
    if (step === null) {
      missing.push(run.run);
      return undefined;
    }
    return ctx.model.fetchValues(run.run, MATRIX, step, { dataset, layer });
  });
  return { ok, failed, missing, candidates: runs.length };
}

function meanTraces(ctx, results) {
  return perLayerTraces(ctx, results, "mean |corr|");
}

function matrixFigure(ctx, results) {
  const cells = [];
  for (const { run, value } of results) {
    const cell = (value.cells || []).find((c) => c.layer === ctx.state.layer && c.dataset === ctx.state.dataset);
    if (cell) cells.push({ run: run.run, cell, step: value.step });
  }
  const grid = subplotGrid(
    cells.map(({ run, step }) => `${run} · step ${step}`),
    { cols: Math.max(1, cells.length), xGap: 0.12 },
  );
  const traces = cells.map(({ run, cell }, k) => ({
    type: "heatmap",
    z: cell.values,
    zmin: -1,
    zmax: 1,
    zmid: 0,
    colorscale: DIVERGING,
    showscale: k === cells.length - 1,
    colorbar: { thickness: 12, len: 0.9, title: { text: "corr", side: "right" } },
    name: plotlyText(run),
    meta: { run, dataset: cell.dataset, layer: cell.layer },
    xaxis: `x${grid.suffixes[k]}`,
    yaxis: `y${grid.suffixes[k]}`,
    hovertemplate: "unit %{y} × unit %{x}<br>corr %{z:.3f}<extra></extra>",
  }));
  const layout = { ...grid.layout, margin: { l: 50, r: 10, t: cells.length > 1 ? 30 : 12, b: 40 } };
  grid.suffixes.forEach((suffix) => {
    layout[`xaxis${suffix}`].title = axisTitle("unit");
    layout[`xaxis${suffix}`].showgrid = false;
    layout[`yaxis${suffix}`].autorange = "reversed";
    layout[`yaxis${suffix}`].scaleanchor = `x${suffix}`;
    layout[`xaxis${suffix}`].constrain = "domain";
    layout[`yaxis${suffix}`].constrain = "domain";
    layout[`yaxis${suffix}`].showgrid = false;
  });
  if (cells.length === 1) layout.annotations = [];
  return { traces, layout, count: cells.length, steps: cells.map((c) => c.step) };
}

export default {
  id: "correlation",
  title: "Neuron correlations",
  description: "Mean |correlation| between the units of each layer over training (Guo et al., Fig. 8), and the correlation matrix of the chosen layer on the focus dataset at the chosen checkpoint.",
  quantities: [MEAN, MATRIX],
  wide: true,

  async render(container, ctx) {
    const [mean, matrix] = await Promise.all([meanAbs(ctx), matrices(ctx)]);
    if (!ctx.isCurrent()) return;
    const failed = [...mean.failed, ...matrix.failed];
    const notes = [failureText(failed)];
    if (allFailed(container, mean.ok.length + matrix.ok.length, failed, `No correlation data for layer "${ctx.state.layer}" on dataset "${ctx.state.dataset}".`)) return;
    const keep = [];
    const draws = [];
    if (mean.ok.length) {
      const { traces, grid, layers } = meanTraces(ctx, mean.ok);
      keep.push(MEAN);
      const div = chartDiv(container, MEAN);
      div.style.height = `${Math.max(1, grid.rows) * 250}px`;
      const layout = { ...grid.layout, shapes: stepLines(ctx.state.step, grid.suffixes), margin: { l: 60, r: 16, t: 30, b: 44 } };
      grid.suffixes.forEach((suffix, k) => {
        Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
        if (k === 0) layout[`yaxis${suffix}`].title = axisTitle(layers.length === 1 ? `mean |corr| (${layers[0]})` : "mean |corr|");
      });
      draws.push(draw(div, traces, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, ctx.state.dataset) }));
    }
    if (matrix.ok.length) {
      const figure = matrixFigure(ctx, matrix.ok);
      if (figure.count) {
        keep.push(MATRIX);
        const div = chartDiv(container, MATRIX);
        div.classList.add("ki-chart-square");
        draws.push(draw(div, figure.traces, figure.layout, ctx));
      }
    }
    if (matrix.missing.length && keep.includes(MATRIX)) notes.push(`${matrix.missing.length} run(s) have no matrix for ${ctx.state.layer} / ${ctx.state.dataset} at or before step ${ctx.state.step}`);
    if (!keep.includes(MATRIX) && !matrix.failed.length) {
      notes.push(`no correlation matrix for layer "${ctx.state.layer}" on dataset "${ctx.state.dataset}" at or before step ${ctx.state.step}`);
    } else if (keep.includes(MATRIX)) {
      notes.push(`matrix: layer ${ctx.state.layer} · dataset ${ctx.state.dataset}`);
    }
    if (mean.ok.length && ctx.runs.length > SMALL_MULTIPLE_RUNS) {
      notes.push(`mean |corr| on ${ctx.state.dataset} only (more than ${SMALL_MULTIPLE_RUNS} runs)`);
    }
    removeCharts(container, keep);
    setMessage(container, "note", joinNotes(...notes));
    await Promise.all(draws);
  },
};
