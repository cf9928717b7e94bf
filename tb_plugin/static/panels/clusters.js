// TSViz level 4 (Siddiqui et al., Fig. 5, right): units of the chosen layer grouped by how alike
// they respond (k-means++ over each unit's scaled activations), at the chosen checkpoint on the
// focus dataset. Left: units per cluster, and how many never activate. Right: the layer's
// correlation matrix with its units ordered by cluster, each cluster's block outlined in its
// colour: redundant filters show as bright blocks. Cluster ids are matched from one checkpoint
// to the next, so a cluster keeps its colour while the cursor moves.

import { axisTitle, chartDiv, draw, removeCharts, setMessage } from "../charts.js";
import { PALETTE } from "../colors.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, failureText, flatValues, hasLayer, joinNotes } from "../panel_kit.js";
import { matrixUnits, subsetText, UNITS } from "./correlation.js";

const QUANTITY = "filter_clusters";
const MATRIX = "correlation_matrix";
const NEVER_ACTIVE = -1;
const DIVERGING = [
  [0, "#2166ac"],
  [0.5, "#f7f7f7"],
  [1, "#b2182b"],
];

/** Colour of a cluster id (grey for units that never activate). */
export function clusterColor(id) {
  return id === NEVER_ACTIVE ? "#9e9e9e" : PALETTE[((id % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/**
 * Units ordered by cluster (never-active last), the cluster sizes, and each cluster's block
 * [start, end) in that order.
 */
export function clusterOrder(ids) {
  const units = ids.map((id, unit) => ({ id: id === NEVER_ACTIVE ? Infinity : id, unit }));
  units.sort((a, b) => a.id - b.id || a.unit - b.unit);
  const order = units.map((u) => u.unit);
  const blocks = [];
  units.forEach((u, position) => {
    const id = u.id === Infinity ? NEVER_ACTIVE : u.id;
    const last = blocks[blocks.length - 1];
    if (last && last.id === id) last.end = position + 1;
    else blocks.push({ id, start: position, end: position + 1 });
  });
  return { order, blocks };
}

function sizesFigure(run, ids, blocks) {
  const clusters = blocks.filter((b) => b.id !== NEVER_ACTIVE);
  const never = ids.filter((id) => id === NEVER_ACTIVE).length;
  const x = clusters.map((b) => `cluster ${b.id}`);
  const y = clusters.map((b) => b.end - b.start);
  if (never) {
    x.push("never active");
    y.push(never);
  }
  const traces = [
    {
      type: "bar",
      x,
      y,
      name: plotlyText(run),
      meta: { run, clusters: clusters.map((b) => b.id), never },
      marker: { color: [...clusters.map((b) => clusterColor(b.id)), ...(never ? [clusterColor(NEVER_ACTIVE)] : [])] },
      hovertemplate: "%{x}: %{y} units<extra></extra>",
    },
  ];
  const layout = {
    xaxis: { type: "category", title: axisTitle("cluster"), automargin: true },
    yaxis: { title: axisTitle("units"), rangemode: "tozero", dtick: Math.max(1, Math.ceil(Math.max(...y, 1) / 8)) },
    margin: { l: 56, r: 10, t: 12, b: 44 },
  };
  return { traces, layout };
}

/**
 * The cluster ids of the units a correlation matrix covers: all of them, or the recorded subset
 * of a wide layer (`units` are unit indices; the matrix's rows follow them).
 */
export function idsOfMatrix(ids, units) {
  return units.map((unit) => ids[unit]);
}

function matrixFigure(run, cell, order, blocks, units) {
  const z = order.map((i) => order.map((j) => cell.values[i][j]));
  const labels = order.map((i) => `unit ${units[i]}`);
  const traces = [
    {
      type: "heatmap",
      x: labels,
      y: labels,
      z,
      zmin: -1,
      zmax: 1,
      colorscale: DIVERGING,
      colorbar: { thickness: 12, len: 0.9, title: { text: "corr", side: "right" } },
      name: plotlyText(run),
      meta: { run, dataset: cell.dataset, layer: cell.layer, order },
      hovertemplate: "%{y} × %{x}<br>corr %{z:.3f}<extra></extra>",
    },
  ];
  const shapes = blocks.map((b) => ({
    type: "rect",
    xref: "x",
    yref: "y",
    x0: b.start - 0.5,
    x1: b.end - 0.5,
    y0: b.start - 0.5,
    y1: b.end - 0.5,
    line: { color: clusterColor(b.id), width: 2.5 },
    fillcolor: "rgba(0,0,0,0)",
  }));
  const axis = { showgrid: false, type: "category", constrain: "domain" };
  const layout = {
    xaxis: { ...axis, showticklabels: false, title: axisTitle("units, ordered by cluster") },
    yaxis: { ...axis, showticklabels: order.length <= 32, autorange: "reversed", scaleanchor: "x" },
    shapes,
    margin: { l: 56, r: 10, t: 12, b: 44 },
  };
  return { traces, layout };
}

export default {
  id: "clusters",
  title: "Filter clusters",
  description: "Units of the chosen layer grouped by the shape of their response (TSViz level 4; k-means++, k = units / 5), on the focus dataset at the chosen checkpoint: sizes, and the correlation matrix ordered by cluster with each cluster outlined in its colour.",
  quantities: [QUANTITY],
  pair: true,
  wide: true,

  async render(container, ctx) {
    const { layer, dataset } = ctx.state;
    const run = ctx.runs.find((r) => hasLayer(r, QUANTITY, layer) && r.datasets.includes(dataset));
    if (!run) {
      removeCharts(container);
      setMessage(container, "note", `No filter clusters for layer "${layer}" on dataset "${dataset}" (a layer of one unit has none).`);
      return;
    }
    let answer;
    let matrix = null;
    let unitsAnswer = null;
    let failed = [];
    try {
      const step = await checkpointFor(ctx, run, "layer_std", { dataset, layer });
      if (step === null) answer = undefined;
      else {
        const wantsMatrix = hasLayer(run, MATRIX, layer);
        const subset = wantsMatrix && hasLayer(run, UNITS, layer);
        [answer, matrix, unitsAnswer] = await Promise.all([
          ctx.model.fetchValues(run.run, QUANTITY, step, { dataset, layer }),
          wantsMatrix ? ctx.model.fetchValues(run.run, MATRIX, step, { dataset, layer }).catch(() => null) : null,
          subset ? ctx.model.fetchValues(run.run, UNITS, step, { layer }).catch(() => null) : null,
        ]);
      }
    } catch (error) {
      failed = [{ run: run.run, error }];
    }
    if (!ctx.isCurrent()) return;
    const cell = answer && (answer.cells || []).find((c) => c.layer === layer && c.dataset === dataset);
    if (allFailed(container, cell ? 1 : 0, failed, `No filter clusters for layer "${layer}" on dataset "${dataset}" at or before step ${ctx.state.step}.`)) return;
    const ids = flatValues(cell).map((v) => Math.round(v));
    const { order, blocks } = clusterOrder(ids);
    const keep = ["cluster_sizes"];
    const sizes = sizesFigure(run.run, ids, blocks);
    const draws = [draw(chartDiv(container, "cluster_sizes"), sizes.traces, sizes.layout, ctx)];
    const matrixCell = matrix && (matrix.cells || []).find((c) => c.layer === layer && c.dataset === dataset);
    const unitsCell = unitsAnswer && (unitsAnswer.cells || []).find((c) => c.layer === layer);
    const covered = matrixCell ? matrixUnits(unitsCell, matrixCell.values.length) : null;
    let subsetNote = "";
    if (matrixCell && (covered.subset || matrixCell.values.length === ids.length)) {
      keep.push("cluster_matrix");
      // A wide layer's matrix covers a subset of its units: order those by cluster.
      const matrixIds = covered.subset ? idsOfMatrix(ids, covered.units) : ids;
      const inMatrix = clusterOrder(matrixIds);
      subsetNote = covered.subset ? `matrix: ${subsetText({ ...covered, width: ids.length })}` : "";
      const fig = matrixFigure(run.run, matrixCell, inMatrix.order, inMatrix.blocks, covered.units);
      const div = chartDiv(container, "cluster_matrix");
      div.classList.add("ki-chart-square");
      draws.push(draw(div, fig.traces, fig.layout, ctx));
    }
    removeCharts(container, keep);
    const clusters = blocks.filter((b) => b.id !== NEVER_ACTIVE).length;
    const never = ids.filter((id) => id === NEVER_ACTIVE).length;
    setMessage(
      container,
      "note",
      joinNotes(
        `${run.run} · layer ${layer} · ${dataset} · step ${answer.step}: ${clusters} clusters of ${ids.length} units`,
        never ? `${never} never active` : "",
        keep.includes("cluster_matrix") ? subsetNote : "record correlation_matrix to see the clusters' correlation blocks",
        ctx.runs.length > 1 ? "first selected run" : "",
      ),
    );
    await Promise.all(draws);
  },
};
