// Guo et al., Fig. 9: the geometry of a layer's representation, a 2-D t-SNE (or PCA) of fixed
// rows of the focus dataset coloured by label, at the newest projected checkpoint at or before
// the cursor. Projections are made every few checkpoints, each started from the previous
// layout, so moving the cursor scrubs through a picture that changes only where the
// representation does. Two runs are shown side by side.

import { chartDiv, draw, removeCharts, setMessage, subplotGrid } from "../charts.js";
import { PALETTE } from "../colors.js";
import { plotlyText } from "../dom.js";
import { allFailed, failureText, hasLayer, joinNotes, perRun, runWindow } from "../panel_kit.js";

const QUANTITY = "projection";
export const MAX_RUNS = 3;
const MAX_CLASSES = 20; // more distinct label values than this: a colour scale, not a legend

/** The layer shown: the chosen one if the run projected it, else its first projected layer. */
export function projectedLayer(run, chosen) {
  if (hasLayer(run, QUANTITY, chosen)) return chosen;
  const layers = (run.quantityLayers && run.quantityLayers[QUANTITY]) || [];
  return layers.length ? layers[0] : null;
}

/**
 * Points of an (N, 2 or 3) projection grouped for drawing: {kind: "classes", groups: [{label,
 * x, y}]} when the third column holds few distinct values, {kind: "values", x, y, c} for a
 * continuous target, {kind: "none", x, y} without labels.
 */
export function pointGroups(values) {
  const x = values.map((row) => row[0]);
  const y = values.map((row) => row[1]);
  if (!values.length || values[0].length < 3) return { kind: "none", x, y };
  const c = values.map((row) => row[2]);
  const distinct = [...new Set(c.filter((v) => v !== null))].sort((a, b) => a - b);
  if (distinct.length > MAX_CLASSES || distinct.some((v) => !Number.isInteger(v))) return { kind: "values", x, y, c };
  const groups = distinct.map((label) => ({ label, x: [], y: [] }));
  const at = new Map(distinct.map((label, i) => [label, i]));
  c.forEach((label, i) => {
    if (label === null) return;
    const group = groups[at.get(label)];
    group.x.push(x[i]);
    group.y.push(y[i]);
  });
  return { kind: "classes", groups };
}

function tracesFor(points, suffix, run, legend) {
  const axes = { xaxis: `x${suffix}`, yaxis: `y${suffix}` };
  const base = { type: "scatter", mode: "markers", ...axes, meta: { run } };
  if (points.kind === "classes") {
    return points.groups.map((g, k) => ({
      ...base,
      x: g.x,
      y: g.y,
      name: plotlyText(`label ${g.label}`),
      legendgroup: `label ${g.label}`,
      showlegend: legend,
      meta: { run, label: g.label },
      marker: { size: 5, opacity: 0.75, color: PALETTE[k % PALETTE.length] },
      hovertemplate: `label ${g.label}<extra></extra>`,
    }));
  }
  if (points.kind === "values") {
    return [
      {
        ...base,
        x: points.x,
        y: points.y,
        name: "target",
        showlegend: false,
        marker: { size: 5, opacity: 0.8, color: points.c, colorscale: "Viridis", showscale: true, colorbar: { thickness: 12, len: 0.8, title: { text: "target", side: "right" } } },
        hovertemplate: "target %{marker.color:.3g}<extra></extra>",
      },
    ];
  }
  return [{ ...base, x: points.x, y: points.y, name: "rows", showlegend: false, marker: { size: 5, opacity: 0.7, color: "#607d8b" }, hovertemplate: "<extra></extra>" }];
}

export default {
  id: "projection",
  title: "Layer representation (projection)",
  description: "Fixed rows of the focus dataset after the chosen layer, projected to 2-D (t-SNE or PCA) and coloured by label (Guo et al., Fig. 9); each projection starts from the previous one, so moving the checkpoint cursor shows how the representation changes.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded projection; add \"projection\" to InspectCallback(quantities=...) (or use quantities=\"full\") to see this panel.",

  async render(container, ctx) {
    const dataset = ctx.state.dataset;
    const candidates = ctx.runs.filter((r) => r.datasets.includes(dataset) && projectedLayer(r, ctx.state.layer) !== null);
    const runs = runWindow(container, ctx, candidates, MAX_RUNS);
    const { ok, failed } = await perRun(runs, async (run) => {
      const step = ctx.stepFor(run);
      if (step === null) return undefined;
      const layer = projectedLayer(run, ctx.state.layer);
      const answer = await ctx.model.fetchValues(run.run, QUANTITY, step, { dataset, layer });
      const cell = (answer.cells || []).find((c) => c.dataset === dataset && c.layer === layer);
      return cell ? { cell, step: answer.step, layer } : undefined;
    });
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed, `No projection on dataset "${dataset}" at or before step ${ctx.state.step}.`)) return;
    const grid = subplotGrid(
      ok.map(({ run, value }) => `${run.run} · ${value.layer} · step ${value.step}`),
      { cols: ok.length, xGap: 0.06 },
    );
    const traces = ok.flatMap(({ run, value }, k) => tracesFor(pointGroups(value.cell.values), grid.suffixes[k], run.run, k === 0));
    const layout = { ...grid.layout, showlegend: true, margin: { l: 16, r: 16, t: ok.length > 1 ? 30 : 12, b: 16 } };
    grid.suffixes.forEach((suffix) => {
      const hidden = { showticklabels: false, showgrid: false, zeroline: false, ticks: "" };
      Object.assign(layout[`xaxis${suffix}`], hidden);
      Object.assign(layout[`yaxis${suffix}`], hidden, { scaleanchor: `x${suffix}` });
    });
    const div = chartDiv(container, QUANTITY);
    div.style.height = "460px";
    removeCharts(container, [QUANTITY]);
    const first = ok[0].value;
    setMessage(
      container,
      "note",
      joinNotes(
        ok.length === 1 ? `${ok[0].run.run} · ${first.layer} · ${dataset} · step ${first.step}` : dataset,
        first.layer !== ctx.state.layer ? `layer "${ctx.state.layer}" was not projected` : "",
        `${first.cell.shape[0]} rows`,
        failureText(failed),
      ),
    );
    await draw(div, traces, layout, ctx);
  },
};
