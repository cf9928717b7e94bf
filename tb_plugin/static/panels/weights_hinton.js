// Iuzzolino et al.: the chosen layer's kernel as a Hinton diagram at the chosen checkpoint. One
// square per (input, output) cell, its area proportional to the weight's magnitude, blue for
// positive and red for negative. Large kernels arrive reduced to at most 32 x 32 block means
// (convolution kernels summed over their window: input channel x filter). Runs side by side.
// The chart is sized to the kernel's shape: a 32 x 1 output kernel is one short row, not a
// strip in a tall empty chart.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid } from "../charts.js";
import { allFailed, failureText, hasLayer, joinNotes, perRun, runWindow } from "../panel_kit.js";

const QUANTITY = "weights_hinton";
export const MAX_RUNS = 3;
const MAX_MATRIX_PX = 420; // tallest drawing of a kernel
const MAX_CELL_PX = 26;

/**
 * Pixel size of one cell for kernels of `rows` x `cols` drawn `count` abreast in a chart
 * `width` px wide: as large as fits both ways, within [3, MAX_CELL_PX].
 */
export function hintonCell(rows, cols, count, width) {
  const across = Math.max(60, width / Math.max(1, count) - 90) / Math.max(1, cols);
  const down = MAX_MATRIX_PX / Math.max(1, rows);
  return Math.max(3, Math.min(MAX_CELL_PX, across, down));
}
const POSITIVE = "#2166ac";
const NEGATIVE = "#b2182b";

/**
 * Squares of a Hinton diagram for a (rows, cols) matrix: for each sign, the cells' x (column),
 * y (row), weight and marker size; the largest |weight| gets `cellPx`, and area follows |weight|.
 */
export function hintonSquares(matrix, cellPx) {
  const largest = Math.max(1e-12, ...matrix.flat().map((v) => Math.abs(v ?? 0)));
  const out = { positive: { x: [], y: [], w: [], size: [] }, negative: { x: [], y: [], w: [], size: [] } };
  matrix.forEach((row, i) =>
    row.forEach((v, j) => {
      if (v === null || v === 0) return;
      const side = v > 0 ? out.positive : out.negative;
      side.x.push(j);
      side.y.push(i);
      side.w.push(v);
      side.size.push(cellPx * Math.sqrt(Math.abs(v) / largest));
    }),
  );
  return out;
}

export default {
  id: "weights_hinton",
  title: "Weights (Hinton diagram)",
  description: "The chosen layer's kernel at the chosen checkpoint: one square per weight (inputs down, units across), its area the magnitude, blue positive, red negative; large kernels shown as at most 32 x 32 block means, convolution kernels summed over their window.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded weights_hinton; use quantities=\"full\" to see this panel.",

  async render(container, ctx) {
    const layer = ctx.state.layer;
    const runs = runWindow(container, ctx, ctx.runs.filter((r) => hasLayer(r, QUANTITY, layer)), MAX_RUNS);
    if (!runs.length) {
      removeCharts(container);
      setMessage(container, "note", `Layer "${layer}" has no kernel (no Dense or convolution weights).`);
      return;
    }
    const { ok, failed } = await perRun(runs, async (run) => {
      const step = ctx.stepFor(run);
      if (step === null) return undefined;
      const answer = await ctx.model.fetchValues(run.run, QUANTITY, step, { layer });
      const cell = (answer.cells || []).find((c) => c.layer === layer);
      return cell ? { cell, step: answer.step } : undefined;
    });
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed, `No weights of layer "${layer}" at or before step ${ctx.state.step}.`)) return;
    const grid = subplotGrid(
      ok.map(({ run, value }) => `${run.run} · step ${value.step}`),
      { cols: ok.length, xGap: 0.1 },
    );
    const traces = [];
    const layout = { ...grid.layout, showlegend: true, margin: { l: 56, r: 16, t: ok.length > 1 ? 30 : 12, b: 48 }, plot_bgcolor: "#f4f4f4" };
    const shapes = ok.map(({ value }) => [value.cell.values.length, value.cell.values.length ? value.cell.values[0].length : 0]);
    const maxRows = Math.max(1, ...shapes.map(([r]) => r));
    const maxCols = Math.max(1, ...shapes.map(([, c]) => c));
    const cell = hintonCell(maxRows, maxCols, ok.length, container.clientWidth || 1000);
    const height = Math.round(maxRows * cell + 100);
    ok.forEach(({ run, value }, k) => {
      const matrix = value.cell.values;
      const rows = matrix.length;
      const cols = rows ? matrix[0].length : 0;
      const cellPx = 0.92 * cell;
      const squares = hintonSquares(matrix, cellPx);
      const suffix = grid.suffixes[k];
      for (const [sign, color] of [
        ["positive", POSITIVE],
        ["negative", NEGATIVE],
      ]) {
        const s = squares[sign];
        traces.push({
          type: "scatter",
          mode: "markers",
          x: s.x,
          y: s.y,
          customdata: s.w,
          name: sign,
          legendgroup: sign,
          showlegend: k === 0,
          xaxis: `x${suffix}`,
          yaxis: `y${suffix}`,
          meta: { run: run.run, sign, rows, cols },
          marker: { symbol: "square", size: s.size, color, line: { width: 0 } },
          hovertemplate: "input %{y} → unit %{x}<br>weight %{customdata:.4f}<extra></extra>",
        });
      }
      const axis = { showgrid: false, zeroline: false, constrain: "domain" };
      Object.assign(layout[`xaxis${suffix}`], axis, { title: axisTitle("unit"), range: [-0.5, cols - 0.5] });
      Object.assign(layout[`yaxis${suffix}`], axis, { title: axisTitle("input"), range: [rows - 0.5, -0.5], scaleanchor: `x${suffix}` });
    });
    const div = chartDiv(container, QUANTITY);
    div.style.height = `${height}px`;
    div.style.maxWidth = `${Math.round(ok.length * (maxCols * cell + 110))}px`;
    removeCharts(container, [QUANTITY]);
    const first = ok[0].value.cell;
    setMessage(container, "note", joinNotes(`layer ${layer}`, `${first.shape[0]} x ${first.shape[1]} cells`, failureText(failed)));
    await draw(div, traces, layout, ctx);
  },
};
