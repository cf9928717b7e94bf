// Fig. 8 of Guo et al.: mean |correlation| between the units of each layer over training (one
// subplot per layer, colour = run, line style = dataset), and the correlation matrix of the
// chosen layer on the focus dataset at the chosen checkpoint; with several runs selected their
// matrices are side by side (up to MAX_MATRICES; more: a visible choice of which).

import { axisTitle, chartDiv, draw, removeCharts, setMessage, stepLines, subplotGrid, stepAxis } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, dataKey, failureText, flatValues, hasLayer, indices, joinNotes, perLayerTraces, perRun, runWindow, SMALL_MULTIPLE_RUNS, stepChoices, withStepChoices, smallMultipleDatasets } from "../panel_kit.js";

const MEAN = "correlation_mean_abs";
const MATRIX = "correlation_matrix";
// Written once per layer whose correlations are taken over a fixed random subset of its units.
export const UNITS = "correlation_units";
const LAYERS = "model_layers";
export const MAX_MATRICES = 3;
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

async function matrices(ctx, container) {
  const { layer, dataset } = ctx.state;
  const candidates = ctx.runs.filter((r) => r.quantities.includes(MATRIX) && r.layers.includes(layer) && r.datasets.includes(dataset));
  const runs = runWindow(container, ctx, candidates, MAX_MATRICES);
  const missing = [];
  const { ok, failed } = await perRun(runs, async (run) => {
    const step = await checkpointFor(ctx, run, MEAN, { dataset, layer });
    if (step === null) {
      missing.push(run.run);
      return undefined;
    }
    const subset = hasLayer(run, UNITS, layer);
    const [matrix, units, shape] = await Promise.all([
      ctx.model.fetchValues(run.run, MATRIX, step, { dataset, layer }),
      subset ? ctx.model.fetchValues(run.run, UNITS, step, { layer }).catch(() => null) : null,
      subset ? ctx.model.fetchValues(run.run, LAYERS, step, { layer }).catch(() => null) : null,
    ]);
    return { ...matrix, units: cellOf(units, layer), layerCell: cellOf(shape, layer) };
  });
  return { ok, failed, missing, candidates: runs.length };
}

function cellOf(answer, layer) {
  return answer ? (answer.cells || []).find((c) => c.layer === layer) || null : null;
}

/**
 * The units of a correlation matrix of `size` rows: the recorded subset (`correlation_units`)
 * when it has that size, else 0..size-1. `width` is the layer's unit count when known (the last
 * axis of its `model_layers` shape).
 */
export function matrixUnits(unitsCell, size, layerCell = null) {
  const units = unitsCell ? flatValues(unitsCell).map((v) => Math.round(v)) : null;
  if (!units || units.length !== size) return { units: indices(size), subset: false, width: size };
  const shape = layerCell ? flatValues(layerCell) : [];
  const width = shape.length > 2 ? Math.round(shape[shape.length - 1]) : null;
  return { units, subset: true, width };
}

/** A heatmap's customdata: [row unit, column unit] of every cell. */
export function unitPairs(units) {
  return units.map((a) => units.map((b) => [a, b]));
}

/** "128 of 300 units (a fixed random subset)", or "" for a whole layer. */
export function subsetText({ units, subset, width }) {
  if (!subset) return "";
  return `${units.length}${width ? ` of ${width}` : ""} units (a fixed random subset)`;
}

function meanTraces(ctx, results) {
  return perLayerTraces(ctx, results, "mean |corr|");
}

function matrixFigure(ctx, results) {
  const cells = [];
  for (const { run, value } of results) {
    const cell = (value.cells || []).find((c) => c.layer === ctx.state.layer && c.dataset === ctx.state.dataset);
    if (cell) cells.push({ run: run.run, cell, step: value.step, units: matrixUnits(value.units, cell.values.length, value.layerCell) });
  }
  const grid = subplotGrid(
    cells.map(({ run, step }) => `${run} · step ${step}`),
    { cols: Math.max(1, cells.length), xGap: 0.12 },
  );
  const traces = cells.map(({ run, cell, units }, k) => ({
    type: "heatmap",
    z: cell.values,
    customdata: unitPairs(units.units),
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
    hovertemplate: "unit %{customdata[0]} × unit %{customdata[1]}<br>corr %{z:.3f}<extra></extra>",
  }));
  const layout = { ...grid.layout, margin: { l: 50, r: 10, t: cells.length > 1 ? 30 : 12, b: 40 } };
  grid.suffixes.forEach((suffix, k) => {
    const subset = subsetText(cells[k].units);
    layout[`xaxis${suffix}`].title = axisTitle(subset ? `unit: ${subset}` : "unit");
    if (cells[k].units.subset) {
      // Ticks at a few positions, labelled with the units they stand for.
      const every = Math.max(1, Math.ceil(cells[k].units.units.length / 8));
      const at = indices(cells[k].units.units.length).filter((i) => i % every === 0);
      Object.assign(layout[`xaxis${suffix}`], { tickvals: at, ticktext: at.map((i) => String(cells[k].units.units[i])) });
      Object.assign(layout[`yaxis${suffix}`], { tickvals: at, ticktext: at.map((i) => String(cells[k].units.units[i])) });
    }
    layout[`xaxis${suffix}`].showgrid = false;
    layout[`yaxis${suffix}`].autorange = "reversed";
    layout[`yaxis${suffix}`].scaleanchor = `x${suffix}`;
    layout[`xaxis${suffix}`].constrain = "domain";
    layout[`yaxis${suffix}`].constrain = "domain";
    layout[`yaxis${suffix}`].showgrid = false;
  });
  if (cells.length === 1) layout.annotations = [];
  return { traces, layout, count: cells.length, steps: cells.map((c) => c.step), subsets: cells.map((c) => subsetText(c.units)).filter(Boolean) };
}

export default {
  id: "correlation",
  title: "Neuron correlations",
  description: "Mean |correlation| between the units of each layer over training (Guo et al., Fig. 8), and the correlation matrix of the chosen layer on the focus dataset at the chosen checkpoint.",
  quantities: [MEAN, MATRIX],
  wide: true,

  async render(container, ctx) {
    const [mean, matrix] = await Promise.all([meanAbs(ctx), matrices(ctx, container)]);
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
      const choices = stepChoices(container, ctx);
      const drawn = withStepChoices(traces, layout, choices);
      draws.push(draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, ctx.state.dataset, choices) }));
    }
    let matrixSubsets = [];
    if (matrix.ok.length) {
      const figure = matrixFigure(ctx, matrix.ok);
      matrixSubsets = figure.subsets;
      if (figure.count) {
        keep.push(MATRIX);
        const div = chartDiv(container, MATRIX);
        div.classList.add("ki-chart-square");
        div.style.maxWidth = `${figure.count * 440 + 120}px`; // the matrices side by side, square
        draws.push(draw(div, figure.traces, figure.layout, ctx));
      }
    }
    if (matrix.missing.length && keep.includes(MATRIX)) notes.push(`${matrix.missing.length} run(s) have no matrix for ${ctx.state.layer} / ${ctx.state.dataset} at or before step ${ctx.state.step}`);
    if (!keep.includes(MATRIX) && !matrix.failed.length) {
      notes.push(`no correlation matrix for layer "${ctx.state.layer}" on dataset "${ctx.state.dataset}" at or before step ${ctx.state.step}`);
    } else if (keep.includes(MATRIX)) {
      notes.push(`matrix: layer ${ctx.state.layer} · dataset ${ctx.state.dataset}`);
      if (matrixSubsets.length) notes.push(`matrix over ${matrixSubsets[0]}`);
    }
    if (mean.ok.length && ctx.runs.length > SMALL_MULTIPLE_RUNS) {
      notes.push(`mean |corr| on ${ctx.state.dataset} only (more than ${SMALL_MULTIPLE_RUNS} runs)`);
    }
    removeCharts(container, keep);
    setMessage(container, "note", joinNotes(...notes));
    await Promise.all(draws);
  },
};
