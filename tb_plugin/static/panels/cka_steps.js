// Representation change over training (Kornblith et al. 2019's linear CKA, as SVCCA-style
// convergence plots): per layer, CKA between its representation at a checkpoint and at the
// previous one, on the same rows. One line per layer in one chart (x = step, y = CKA on a fixed
// [0, 1] range), so the order in which layers settle can be read; one subplot per run. The
// layer is encoded as a depth colour (first layer dark blue, last one orange, the same in every
// subplot), not by the run palette: there is only the reference dataset here, and runs are
// subplots. The chosen layer is
// drawn thicker. Clicking a point moves the checkpoint cursor.

import { axisTitle, chartDiv, draw, hover, setMessage, stepAxis, stepLines, subplotGrid, traceName } from "../charts.js";
import { allFailed, dataKey, failureText, joinNotes, perRun, runWindow } from "../panel_kit.js";

const QUANTITY = "cka_previous";
const MAX_RUNS = 4;
const MAX_LEGEND = 16;
// Plasma, stopped before its pale yellow end (unreadable on white).
const DEPTH = ["#0d0887", "#5c01a6", "#9c179e", "#cc4778", "#e66c5c", "#f89540"];

/** The colour of the `i`-th of `n` layers (model order): dark blue first, orange last. */
export function depthColor(i, n) {
  if (n <= 1) return DEPTH[0];
  const t = (Math.min(Math.max(i, 0), n - 1) / (n - 1)) * (DEPTH.length - 1);
  const k = Math.min(Math.floor(t), DEPTH.length - 2);
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const rgb = (hex) => [1, 3, 5].map((p) => parseInt(hex.slice(p, p + 2), 16));
  const [from, to] = [rgb(DEPTH[k]), rgb(DEPTH[k + 1])];
  return `rgb(${from.map((c, j) => mix(c, to[j], t - k)).join(", ")})`;
}

export default {
  id: "cka_steps",
  title: "Representation change: CKA to the previous checkpoint",
  description:
    "Linear CKA between each layer's representation at a checkpoint and at the previous one, on the same rows (1 = unchanged): shows when a layer stops changing, and which layers settle first.",
  quantities: [QUANTITY],
  wide: true, // long step axes; and never left as a half row beside the loss (dense grid)

  async render(container, ctx) {
    const candidates = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    const runs = runWindow(container, ctx, candidates, MAX_RUNS);
    const { ok, failed } = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, QUANTITY));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    const several = ok.length > 1;
    const grid = subplotGrid(
      ok.map(({ run }) => run.run),
      { cols: Math.min(ok.length, MAX_RUNS), yGap: 0.2 },
    );
    const traces = [];
    const chosen = ctx.state.layer;
    let datasets = new Set();
    // One depth colour per layer name across the runs (the selected runs' layers in model order),
    // so the legend holds each layer once and a click on it hides that layer in every subplot.
    const order = ctx.layers.filter((layer) => ok.some(({ value }) => (value.series || []).some((s) => s.layer === layer)));
    for (const { value } of ok) for (const s of value.series || []) if (!order.includes(s.layer)) order.push(s.layer);
    const legend = new Set();
    ok.forEach(({ run, value }, k) => {
      const series = value.series || [];
      order.forEach((layer, i) => {
        const s = series.find((x) => x.layer === layer);
        if (!s) return;
        datasets.add(s.dataset);
        const color = depthColor(i, order.length);
        const thick = layer === chosen;
        const first = !legend.has(layer);
        legend.add(layer);
        traces.push({
          type: "scatter",
          mode: s.steps.length <= 60 ? "lines+markers" : "lines",
          x: s.steps,
          y: s.values,
          name: traceName(layer), // the subplot's title names the run
          legendgroup: layer,
          meta: { run: run.run, layer, dataset: s.dataset },
          xaxis: `x${grid.suffixes[k]}`,
          yaxis: `y${grid.suffixes[k]}`,
          showlegend: first && order.length <= MAX_LEGEND,
          connectgaps: false,
          line: { color, width: thick ? 3.5 : 1.5 },
          marker: { color, size: thick ? 7 : 4 },
          hovertemplate: hover("step", "CKA", ".3f"),
        });
      });
    });
    const layout = {
      ...grid.layout,
      shapes: stepLines(ctx.state.step, grid.suffixes),
      showlegend: traces.some((t) => t.showlegend),
      legend: { orientation: "v", x: 1.01, y: 1, yanchor: "top", font: { size: 11 } },
      margin: { l: 60, r: 16, t: several ? 30 : 12, b: 44 },
    };
    grid.suffixes.forEach((suffix, k) => {
      Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
      Object.assign(layout[`yaxis${suffix}`], { range: [0, 1.02], fixedrange: false });
      if (k === 0) layout[`yaxis${suffix}`].title = axisTitle("CKA to previous");
    });
    const div = chartDiv(container, QUANTITY);
    div.style.height = `${Math.max(1, grid.rows) * 340}px`;
    datasets = [...datasets];
    setMessage(
      container,
      "note",
      joinNotes(
        failureText(failed),
        traces.length ? "" : "No layer has a CKA to a previous checkpoint yet (it starts at the second checkpoint).",
        datasets.length ? `on ${datasets.join(", ")}` : "",
        chosen && traces.some((t) => t.meta.layer === chosen) ? `thick: ${chosen}` : "",
      ),
    );
    await draw(div, traces, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, chosen) });
  },
};
