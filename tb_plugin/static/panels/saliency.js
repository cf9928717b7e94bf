// Fig. 11 of Guo et al.: how strongly the model output responds to each feature group (mean
// |d output / d group input|; for id features, at their embedding's output). Left: one bar per
// group at the chosen checkpoint, grouped by run (colour) and dataset (opacity). Right: group x
// step heatmaps of the focus dataset, one per run for the first two runs, where a group the
// model comes to rely on (a memorised user id, say) shows as a bright row. Groups are ranked by
// their newest saliency, most salient on top, in both charts.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid, traceName } from "../charts.js";
import { datasetStyle, runColor } from "../colors.js";
import { plotlyText } from "../dom.js";
import { allFailed, dataKey, failureText, joinNotes, perRun, valueAt } from "../panel_kit.js";

const QUANTITY = "feature_saliency";
// Grouped bars of more runs than this are unreadable: the first ones are drawn.
export const MAX_BAR_RUNS = 4;
const MAX_HEATMAPS = 2;

/**
 * Group names, most salient first: by the newest value of the focus dataset's series of the
 * first run that has it (stable while the cursor moves), then in first-seen order.
 */
export function rankGroups(groups, results, dataset) {
  const newest = new Map();
  for (const { value } of results) {
    for (const s of value.series || []) {
      const group = s.extra && s.extra.group;
      if (s.dataset !== dataset || newest.has(group) || !s.values.length) continue;
      newest.set(group, s.values[s.values.length - 1]);
    }
  }
  const score = (g) => (Number.isFinite(newest.get(g)) ? newest.get(g) : -Infinity);
  return [...groups].sort((a, b) => score(b) - score(a) || groups.indexOf(a) - groups.indexOf(b));
}

/** Group names in first-seen order over every run's series. */
export function groupOrder(results) {
  const order = [];
  for (const { value } of results) {
    for (const s of value.series || []) {
      const group = s.extra && s.extra.group;
      if (group !== undefined && !order.includes(group)) order.push(group);
    }
  }
  return order;
}

/** Steps (sorted) and a groups x steps matrix (null where missing) of one dataset's series. */
export function groupStepMatrix(series, groups, dataset) {
  const mine = series.filter((s) => s.dataset === dataset && s.extra && s.extra.group !== undefined);
  const steps = [...new Set(mine.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const column = new Map(steps.map((step, i) => [step, i]));
  const z = groups.map(() => steps.map(() => null));
  for (const s of mine) {
    const row = groups.indexOf(s.extra.group);
    if (row < 0) continue;
    s.steps.forEach((step, i) => {
      z[row][column.get(step)] = s.values[i];
    });
  }
  return { steps, z };
}

function barTraces(ctx, results, groups) {
  const traces = [];
  const labels = groups.map(plotlyText);
  for (const { run, value } of results.slice(0, MAX_BAR_RUNS)) {
    const runStep = ctx.stepFor(run);
    for (const dataset of ctx.state.datasets) {
      const series = (value.series || []).filter((s) => s.dataset === dataset);
      if (!series.length) continue;
      const y = groups.map((group) => {
        const s = series.find((item) => item.extra && item.extra.group === group);
        return s ? valueAt(s.steps, s.values, runStep) : null;
      });
      traces.push({
        type: "bar",
        orientation: "h",
        y: labels,
        x: y,
        name: traceName(run.run, dataset),
        meta: { run: run.run, dataset, groups, step: runStep },
        offsetgroup: `${run.run}\u0000${dataset}`,
        marker: { color: runColor(run.run), opacity: datasetStyle(ctx.datasetIndex(dataset)).opacity },
        hovertemplate: "%{fullData.name}<br>%{y}: %{x:.4g}<extra></extra>",
      });
    }
  }
  return traces;
}

function heatmapFigure(ctx, results, groups) {
  const dataset = ctx.state.dataset;
  const maps = [];
  for (const { run, value } of results) {
    if (maps.length === MAX_HEATMAPS) break;
    const { steps, z } = groupStepMatrix(value.series || [], groups, dataset);
    if (steps.length) maps.push({ run: run.run, steps, z });
  }
  const grid = subplotGrid(maps.map((m) => m.run), { cols: Math.max(1, maps.length), xGap: 0.1 });
  const zmax = Math.max(0, ...maps.flatMap((m) => m.z.flat().filter((v) => v !== null)));
  const traces = maps.map((m, k) => ({
    type: "heatmap",
    x: m.steps,
    y: groups.map(plotlyText),
    z: m.z,
    zmin: 0,
    zmax: zmax || 1,
    colorscale: "Viridis",
    showscale: k === maps.length - 1,
    colorbar: { thickness: 12, len: 0.9, title: { text: "saliency", side: "right" } },
    name: plotlyText(m.run),
    meta: { run: m.run, dataset, groups },
    xaxis: `x${grid.suffixes[k]}`,
    yaxis: `y${grid.suffixes[k]}`,
    hoverongaps: false,
    hovertemplate: "%{y} · step %{x}<br>saliency %{z:.4g}<extra></extra>",
  }));
  const layout = { ...grid.layout, margin: { l: 110, r: 10, t: maps.length > 1 ? 30 : 12, b: 44 } };
  grid.suffixes.forEach((suffix, k) => {
    layout[`xaxis${suffix}`].title = axisTitle("step");
    layout[`xaxis${suffix}`].showgrid = false;
    layout[`yaxis${suffix}`].type = "category";
    layout[`yaxis${suffix}`].automargin = true;
    layout[`yaxis${suffix}`].showgrid = false;
    // Side by side, the group names of the first heatmap label every row: the others' names
    // would be drawn over their neighbour.
    if (k > 0) layout[`yaxis${suffix}`].showticklabels = false;
  });
  if (maps.length === 1) layout.annotations = [];
  return { traces, layout, count: maps.length };
}

export default {
  id: "saliency",
  title: "Feature-group saliency",
  description: "Mean |d output / d input| per feature group (Guo et al., Fig. 11; id features at their embedding's output): a group the model memorises stands out. Bars at the chosen checkpoint; heatmaps over training for the focus dataset.",
  quantities: [QUANTITY],
  wide: true,
  pair: true,

  async render(container, ctx) {
    const runs = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    // Only what is drawn: the shown datasets at the cursor for the bars of the first runs, and
    // the focus dataset over training for the heatmaps of the first two.
    const [atStep, history] = await Promise.all([
      perRun(runs.slice(0, MAX_BAR_RUNS), (run) =>
        ctx.model.fetchScalars(run.run, QUANTITY, { datasets: ctx.state.datasets, step: ctx.state.step }),
      ),
      perRun(runs.slice(0, MAX_HEATMAPS), (run) => ctx.model.fetchScalars(run.run, QUANTITY, { datasets: [ctx.state.dataset] })),
    ]);
    if (!ctx.isCurrent()) return;
    const failed = [...atStep.failed, ...history.failed];
    if (allFailed(container, atStep.ok.length + history.ok.length, failed)) return;
    const groups = rankGroups(groupOrder([...atStep.ok, ...history.ok]), history.ok, ctx.state.dataset);
    const ok = history.ok;
    const keep = [];
    const draws = [];
    // One row per group in both charts, most salient on top; tall enough for every label.
    const height = `${Math.max(300, 18 * groups.length + 90)}px`;
    const rows = { type: "category", automargin: true, autorange: "reversed", categoryorder: "array", categoryarray: groups.map(plotlyText) };
    const bars = barTraces(ctx, atStep.ok, groups);
    if (bars.length) {
      keep.push("saliency_bars");
      const layout = {
        barmode: "group",
        xaxis: { title: axisTitle("mean |d output / d input|"), rangemode: "tozero" },
        yaxis: { ...rows },
        margin: { l: 110, r: 10, t: 12, b: 44 },
      };
      const div = chartDiv(container, "saliency_bars");
      div.style.height = height;
      draws.push(draw(div, bars, layout, ctx));
    }
    const heat = heatmapFigure(ctx, ok, groups);
    if (heat.count) {
      keep.push("saliency_heatmap");
      for (const key of Object.keys(heat.layout)) {
        if (/^yaxis\d*$/.test(key)) Object.assign(heat.layout[key], rows);
      }
      const div = chartDiv(container, "saliency_heatmap");
      div.style.height = height;
      draws.push(
        draw(div, heat.traces, heat.layout, ctx, {
          onStep: (step) => ctx.setStep(step),
          dataKey: dataKey(ctx, ctx.state.dataset),
        }),
      );
    }
    removeCharts(container, keep);
    setMessage(
      container,
      "note",
      joinNotes(
        failureText(failed),
        runs.length > MAX_BAR_RUNS ? `bars of the first ${MAX_BAR_RUNS} of ${runs.length} runs` : "",
        heat.count ? `heatmap: dataset ${ctx.state.dataset}` : `no saliency on dataset "${ctx.state.dataset}"`,
      ),
    );
    await Promise.all(draws);
  },
};
