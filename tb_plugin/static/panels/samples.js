// The interactive CNN visualisation (Iuzzolino et al.) and TSViz level 2: a few fixed samples of
// the focus dataset, each as the model sees it (the input), what the chosen layer makes of it
// (its feature maps: the channels of a convolution side by side, a sequence layer's channels
// over time, a dense layer's units), and the model's output for it (class probabilities, the
// true class marked). At the chosen checkpoint, first selected run that has them.

import { chartDiv, draw, removeCharts, setMessage, subplotGrid } from "../charts.js";
import { allFailed, failureText, hasLayer, joinNotes } from "../panel_kit.js";

const MAPS = "feature_maps";
const PROBS = "prediction_probs";
const TRUE_CLASS = "#2ca02c";
const OTHER_CLASS = "#9e9e9e";
const GREY = [
  [0, "#000000"],
  [1, "#ffffff"],
];

/** Cells by sample index (numeric order) from a /values answer with a `sample` axis. */
export function bySample(cells) {
  const out = new Map();
  for (const cell of cells || []) {
    const i = Number(cell.extra && cell.extra.sample);
    if (Number.isInteger(i)) out.set(i, cell);
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * One sample's (H, W, C) maps as a single matrix: the channels in a near-square grid with a
 * row/column of nulls (drawn as gaps) between them, each channel scaled to 0..1 on its own.
 */
export function mosaic(values) {
  const height = values.length;
  const width = values[0].length;
  const channels = values[0][0].length;
  const columns = Math.ceil(Math.sqrt(channels));
  const rows = Math.ceil(channels / columns);
  const out = Array.from({ length: rows * (height + 1) - 1 }, () => new Array(columns * (width + 1) - 1).fill(null));
  for (let c = 0; c < channels; c += 1) {
    let low = Infinity;
    let high = -Infinity;
    for (const row of values) for (const px of row) if (px[c] !== null) ((low = Math.min(low, px[c])), (high = Math.max(high, px[c])));
    const span = high > low ? high - low : 1;
    const top = Math.floor(c / columns) * (height + 1);
    const left = (c % columns) * (width + 1);
    values.forEach((row, y) =>
      row.forEach((px, x) => {
        out[top + y][left + x] = px[c] === null ? null : (px[c] - low) / span;
      }),
    );
  }
  return out;
}

/** Traces drawing one array (a sample's input or a layer's output) in the subplot `suffix`. */
export function arrayTraces(values, shape, suffix, label) {
  const axes = { xaxis: `x${suffix}`, yaxis: `y${suffix}` };
  if (shape.length === 3) {
    const z = shape[2] === 1 ? values.map((row) => row.map((px) => px[0])) : mosaic(values);
    return [{ type: "heatmap", z, colorscale: GREY, showscale: false, ...axes, meta: { label, kind: "map", shape }, hovertemplate: "%{z:.3g}<extra></extra>" }];
  }
  if (shape.length === 2) {
    // (time, channels): one row per channel, named (a numeric axis would tick -0.5, 0, 0.5...).
    const z = Array.from({ length: shape[1] }, (_, c) => values.map((step) => step[c]));
    const y = Array.from({ length: shape[1] }, (_, c) => `ch ${c}`);
    return [{ type: "heatmap", z, y, colorscale: "Viridis", showscale: false, ...axes, meta: { label, kind: "sequence", shape }, hovertemplate: "%{y}, t %{x}: %{z:.3g}<extra></extra>" }];
  }
  return [{ type: "bar", y: values, marker: { color: "#607d8b" }, showlegend: false, ...axes, meta: { label, kind: "vector", shape }, hovertemplate: "unit %{x}: %{y:.3g}<extra></extra>" }];
}

/** A regressor's output cell: (2, outputs), the prediction then the true target. */
export function isRegression(cell) {
  return cell.shape.length === 2 && cell.shape[0] === 2;
}

/** Prediction (grey) beside the true target (green) for each output of a regressor. */
export function regressionTraces(cell, suffix) {
  const [predicted, truth] = cell.values;
  const x = predicted.map((_, k) => k);
  const axes = { xaxis: `x${suffix}`, yaxis: `y${suffix}` };
  return [
    { type: "bar", x, y: predicted, name: "predicted", marker: { color: OTHER_CLASS }, showlegend: false, ...axes, meta: { label: "output", kind: "prediction" }, hovertemplate: "output %{x} predicted: %{y:.4g}<extra></extra>" },
    { type: "bar", x, y: truth, name: "true", marker: { color: TRUE_CLASS }, showlegend: false, ...axes, meta: { label: "output", kind: "target" }, hovertemplate: "output %{x} true: %{y:.4g}<extra></extra>" },
  ];
}

function probabilityTrace(cell, suffix) {
  const values = cell.values;
  const truth = cell.extra && cell.extra.class !== undefined ? Number(cell.extra.class) : null;
  return {
    type: "bar",
    x: values.map((_, k) => k),
    y: values,
    xaxis: `x${suffix}`,
    yaxis: `y${suffix}`,
    showlegend: false,
    marker: { color: values.map((_, k) => (k === truth ? TRUE_CLASS : OTHER_CLASS)) },
    meta: { label: "output", kind: "probabilities", truth },
    hovertemplate: values.length > 1 ? "class %{x}: %{y:.3f}<extra></extra>" : "output %{y:.4g}<extra></extra>",
  };
}

export default {
  id: "samples",
  title: "Samples through the network",
  description: "Fixed samples of the focus dataset at the chosen checkpoint: the input, the chosen layer's feature maps (a convolution's channels side by side, each scaled to its own range) and the model's output (class probabilities with the true class in green; a regressor's prediction in grey beside the true value in green).",
  quantities: [MAPS, PROBS],
  wide: true,
  hint: "No selected run recorded feature_maps or prediction_probs; use quantities=\"full\" to see this panel.",

  async render(container, ctx) {
    const { dataset, layer } = ctx.state;
    const run = ctx.runs.find((r) => r.datasets.includes(dataset) && (hasLayer(r, MAPS, layer) || r.quantities.includes(PROBS)));
    if (!run) {
      removeCharts(container);
      setMessage(container, "note", `No samples recorded on dataset "${dataset}".`);
      return;
    }
    const step = ctx.stepFor(run);
    const failed = [];
    const get = (quantity, filters) =>
      ctx.model.fetchValues(run.run, quantity, step, { dataset, ...filters }).catch((error) => {
        failed.push({ run, error }); // the other columns are still drawn; the note says why
        return null;
      });
    const [inputs, maps, probs] = await Promise.all([
      hasLayer(run, MAPS, "input") ? get(MAPS, { layer: "input" }) : null,
      hasLayer(run, MAPS, layer) ? get(MAPS, { layer }) : null,
      run.quantities.includes(PROBS) ? get(PROBS, {}) : null,
    ]);
    if (!ctx.isCurrent()) return;
    const columns = [
      ["input", bySample(inputs && inputs.cells)],
      [`layer ${layer}`, bySample(maps && maps.cells)],
      ["output", bySample(probs && probs.cells.filter((c) => c.dataset === dataset))],
    ].filter(([, cells]) => cells.size);
    const samples = [...new Set(columns.flatMap(([, cells]) => [...cells.keys()]))].sort((a, b) => a - b);
    if (allFailed(container, samples.length, failed, `No samples of dataset "${dataset}" at or before step ${ctx.state.step}.`)) return;
    const titles = samples.flatMap((i) => columns.map(([name]) => `sample ${i} · ${name}`));
    const grid = subplotGrid(titles, { cols: columns.length, xGap: 0.05, yGap: 0.3 / samples.length });
    const traces = [];
    const layout = { ...grid.layout, showlegend: false, margin: { l: 36, r: 10, t: 24, b: 24 } };
    samples.forEach((i, row) => {
      columns.forEach(([name, cells], col) => {
        const k = row * columns.length + col;
        const suffix = grid.suffixes[k];
        const cell = cells.get(i);
        if (!cell) return;
        if (name === "output" && isRegression(cell)) traces.push(...regressionTraces(cell, suffix));
        else if (name === "output") traces.push(probabilityTrace(cell, suffix));
        else traces.push(...arrayTraces(cell.values, cell.shape, suffix, name));
        const image = cell.shape.length === 3;
        Object.assign(layout[`xaxis${suffix}`], { showgrid: false, zeroline: false, showticklabels: !image, tickfont: { size: 9 } });
        Object.assign(layout[`yaxis${suffix}`], { showgrid: false, zeroline: false, showticklabels: !image, tickfont: { size: 9 } });
        if (image) Object.assign(layout[`yaxis${suffix}`], { autorange: "reversed", scaleanchor: `x${suffix}` });
        if (name === "output" && !isRegression(cell) && cell.values.length > 1) layout[`yaxis${suffix}`].range = [0, 1];
      });
    });
    const div = chartDiv(container, "samples");
    div.style.height = `${90 + samples.length * 200}px`;
    removeCharts(container, ["samples"]);
    const used = [inputs, maps, probs].find((a) => a && a.step !== undefined);
    setMessage(
      container,
      "note",
      joinNotes(
        `${run.run} · ${dataset} · step ${used ? used.step : step}`,
        hasLayer(run, MAPS, layer) ? "" : `layer "${layer}" has no feature maps`,
        ctx.runs.length > 1 ? "first selected run with them" : "",
        failureText(failed),
      ),
    );
    await draw(div, traces, layout, ctx);
  },
};
