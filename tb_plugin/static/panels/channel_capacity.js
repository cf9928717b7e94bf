// CNNSlicer (Shen et al., section 5.3 and Figs. 8, 10-12): how much information passes between
// each channel of an earlier layer (horizontal axis) and each channel of a later one (vertical
// axis), H(X) - H(X | Y) in bits from the distances between samples' feature maps, at the
// chosen checkpoint on the focus dataset. Dark = high capacity; a bright heatmap means the
// later layer has discarded what the earlier one carried. Sorting rows and columns by their
// maximum or mean (section 5.3.2) brings similar channels together. Several runs' heatmaps are side by
// side (up to MAX_MATRICES; more: a visible choice of which).

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, failureText, joinNotes, panelChoice, perRun, runWindow } from "../panel_kit.js";

const QUANTITY = "channel_capacity";
const COMPANION = "entropy_inter"; // recorded at the same checkpoints, per dataset
export const MAX_MATRICES = 3;
const SCALE = [
  [0, "#f7fcf5"],
  [0.5, "#41ab5d"],
  [1, "#00441b"],
];
export const SORTS = [
  { value: "index", text: "channel index" },
  { value: "max", text: "maximum" },
  { value: "mean", text: "mean" },
];
export const SORT_AXES = [
  { value: "both", text: "rows and columns" },
  { value: "rows", text: "rows" },
  { value: "columns", text: "columns" },
];

function reduce(values, how) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  if (!finite.length) return -Infinity;
  return how === "max" ? Math.max(...finite) : finite.reduce((a, b) => a + b, 0) / finite.length;
}

/**
 * Index order of `count` vectors (vector(i) gives the i-th), largest maximum or mean first
 * (ties: lower index first); "index" keeps 0..count-1.
 */
export function sortedOrder(count, vector, how) {
  const order = Array.from({ length: count }, (_, i) => i);
  if (how === "index") return order;
  const keys = order.map((i) => reduce(vector(i), how));
  return order.sort((a, b) => keys[b] - keys[a] || a - b);
}

/**
 * The heatmap of a (C_a, C_b) capacity matrix with channels of the earlier layer on x and of
 * the later layer on y, rows and columns ordered by `how` on the axes `axes` names.
 * Returns {x, y, z} (x, y: channel indices in display order; z[row][column]).
 */
export function orderedMatrix(matrix, how, axes) {
  const ca = matrix.length;
  const cb = ca ? matrix[0].length : 0;
  const column = (i) => matrix[i]; // column i of the heatmap: channel i of the earlier layer
  const row = (j) => matrix.map((r) => r[j]); // row j: channel j of the later layer
  const x = sortedOrder(ca, column, axes === "rows" ? "index" : how);
  const y = sortedOrder(cb, row, axes === "columns" ? "index" : how);
  return { x, y, z: y.map((j) => x.map((i) => matrix[i][j])) };
}

/** "a->b" -> ["a", "b"] (layer names may contain "-" but the callback joins them with "->"). */
export function splitPair(pair) {
  const at = pair.lastIndexOf("->");
  return at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 2)];
}

function figure(cells, how, axes) {
  const grid = subplotGrid(
    cells.map(({ run, step }) => `${run} · step ${step}`),
    { cols: Math.max(1, cells.length), xGap: 0.12 },
  );
  const zmax = Math.max(1e-9, ...cells.flatMap(({ cell }) => cell.values.flat().filter((v) => v !== null)));
  const traces = [];
  const layout = { ...grid.layout, margin: { l: 64, r: 10, t: cells.length > 1 ? 30 : 12, b: 48 } };
  cells.forEach(({ run, cell, step }, k) => {
    const [first, second] = splitPair(cell.extra.pair);
    const { x, y, z } = orderedMatrix(cell.values, how, axes);
    const suffix = grid.suffixes[k];
    traces.push({
      type: "heatmap",
      x: x.map(String),
      y: y.map(String),
      z,
      zmin: 0,
      zmax,
      colorscale: SCALE,
      showscale: k === cells.length - 1,
      colorbar: { thickness: 12, len: 0.9, title: { text: "bits", side: "right" } },
      xaxis: `x${suffix}`,
      yaxis: `y${suffix}`,
      name: plotlyText(run),
      meta: { run, pair: cell.extra.pair, step, columns: x, rows: y },
      hovertemplate: `${plotlyText(first)} channel %{x} → ${plotlyText(second)} channel %{y}<br>%{z:.3f} bits<extra></extra>`,
    });
    const axis = { type: "category", showgrid: false, constrain: "domain", tickfont: { size: 9 } };
    Object.assign(layout[`xaxis${suffix}`], axis, { title: axisTitle(`${first} channel`), showticklabels: x.length <= 40 });
    Object.assign(layout[`yaxis${suffix}`], axis, { title: axisTitle(`${second} channel`), autorange: "reversed", scaleanchor: `x${suffix}`, showticklabels: y.length <= 40 });
  });
  return { traces, layout };
}

export default {
  id: "channel_capacity",
  title: "Channel capacity between layers",
  description: "Information passed from each channel of an earlier layer (horizontal) to each channel of a later one (vertical), H(X) - H(X | Y) in bits, at the chosen checkpoint on the focus dataset (CNNSlicer section 5.3). Sort rows and columns by their maximum or mean to bring similar channels together.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded channel_capacity; use quantities=\"full\" on a convolutional model (or InspectCallback(layer_pairs=...)) to see this panel.",

  async render(container, ctx) {
    const dataset = ctx.state.dataset;
    const candidates = ctx.runs.filter((r) => r.quantities.includes(QUANTITY) && r.datasets.includes(dataset));
    const runs = runWindow(container, ctx, candidates, MAX_MATRICES);
    const { ok, failed } = await perRun(runs, async (run) => {
      const step = await checkpointFor(ctx, run, COMPANION, { dataset });
      return step === null ? undefined : ctx.model.fetchValues(run.run, QUANTITY, step, { dataset });
    });
    if (!ctx.isCurrent()) return;
    const found = ok.flatMap(({ run, value }) => (value.cells || []).filter((c) => c.dataset === dataset && c.extra && c.extra.pair).map((cell) => ({ run: run.run, cell, step: value.step })));
    if (allFailed(container, found.length, failed, `No channel capacity on dataset "${dataset}" at or before step ${ctx.state.step}.`)) return;
    const pairs = [...new Set(found.map((f) => f.cell.extra.pair))];
    const repaint = () => {
      if (ctx.isCurrent()) this.paint(container, ctx, found, failed);
    };
    panelChoice(container, "pair", "layers", pairs.map((p) => ({ value: p, text: splitPair(p).join(" → ") })), repaint);
    panelChoice(container, "sort", "sort by", SORTS, repaint, "max");
    panelChoice(container, "sort_axes", "sort", SORT_AXES, repaint);
    await this.paint(container, ctx, found, failed);
  },

  async paint(container, ctx, found, failed) {
    const choice = (key) => container.querySelector(`[data-choice="${key}"] select`).value;
    const pair = choice("pair");
    const cells = found.filter((f) => f.cell.extra.pair === pair);
    const fig = figure(cells, choice("sort"), choice("sort_axes"));
    const div = chartDiv(container, QUANTITY);
    const rows = Math.max(0, ...cells.map(({ cell }) => (cell.values[0] || []).length));
    div.style.height = `${Math.max(360, Math.min(720, 90 + 15 * rows))}px`;
    removeCharts(container, [QUANTITY]);
    const [first, second] = splitPair(pair);
    setMessage(
      container,
      "note",
      joinNotes(
        `${ctx.state.dataset} · ${first} → ${second}`,
        cells.length === 1 ? `${cells[0].run} · step ${cells[0].step}` : "",
        failureText(failed),
      ),
    );
    await draw(div, fig.traces, fig.layout, ctx);
  },
};
