// Fig. 11 of Guo et al.: how strongly the model output responds to each feature group (mean
// |d output / d group input|; for id features, at their embedding's output). Left: one bar per
// group at the chosen checkpoint, grouped by run (colour) and dataset (opacity). Right: group x
// step heatmaps of the focus dataset, one per run (up to MAX_BAR_RUNS, else a visible choice
// of which runs), where a group the model comes to rely on (a memorised user id, say) shows as
// a bright row. Groups are ranked by their newest saliency, most salient on top, in both charts. A table has a group per column (30
// for breast cancer, 64 for digits): past TOP_GROUPS groups, the most salient are drawn one by
// one and the rest as one hatched row of their mean, unless the user asks for all of them.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid, traceName } from "../charts.js";
import { el, plotlyText } from "../dom.js";
import { allFailed, dataKey, failureText, joinNotes, perRun, runWindow, valueAt } from "../panel_kit.js";

const QUANTITY = "feature_saliency";
// Grouped bars of more runs than this are unreadable: the first ones are drawn.
export const MAX_BAR_RUNS = 3;
const MAX_HEATMAPS = MAX_BAR_RUNS;
// Groups drawn one by one before the rest is summarised: a 30-column table (breast cancer) and
// Guo et al.'s 34 groups stay whole at about 18 px a row; 64 pixels of digits do not.
export const TOP_GROUPS = 34;
// Longer group names (a DataFrame's column names can be sentences) are cut in the middle; the
// hover shows the whole name.
export const LABEL_CHARS = 30;

/** `name` cut to at most `max` characters in the middle ("mean concave…points"). */
export function shortLabel(name, max = LABEL_CHARS) {
  const text = String(name);
  if (text.length <= max) return text;
  const tail = Math.floor((max - 1) / 3);
  return `${text.slice(0, max - 1 - tail)}\u2026${text.slice(text.length - tail)}`;
}

/**
 * The rows of both charts for `groups` (ranked): the groups drawn one by one, the rest (to be
 * drawn as one row of their mean) and a distinct axis label per row, the summary row last.
 */
export function groupRows(groups, limit = TOP_GROUPS) {
  const cut = groups.length > limit ? limit : groups.length;
  const shown = groups.slice(0, cut);
  const rest = groups.slice(cut);
  const labels = [];
  const used = new Set();
  for (const group of shown) {
    let label = shortLabel(group);
    // Two long names cut to the same label would share one category: number the later one.
    for (let k = 2; used.has(label); k += 1) label = `${shortLabel(group, LABEL_CHARS - 3)} #${k}`;
    used.add(label);
    labels.push(label);
  }
  if (rest.length) labels.push(`+${rest.length} more: mean`);
  return { shown, rest, labels };
}

/** Mean, min and max of the finite numbers among `values` (null when there are none). */
export function summary(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return null;
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  return { mean, min: Math.min(...finite), max: Math.max(...finite), count: finite.length };
}

/** Each row's value from per-group `valueOf(group)`: the shown groups', then the rest's mean. */
export function rowValues(rows, valueOf) {
  const values = rows.shown.map(valueOf);
  if (rows.rest.length) {
    const rest = summary(rows.rest.map(valueOf));
    values.push(rest ? rest.mean : null);
  }
  return values;
}

/** Hover text of each row: the group's whole name, or what the summary row stands for. */
function rowHover(rows, valueOf) {
  const text = rows.shown.map(plotlyText);
  if (rows.rest.length) {
    const rest = summary(rows.rest.map(valueOf));
    const range = rest ? ` (${rest.min.toPrecision(3)} to ${rest.max.toPrecision(3)})` : "";
    text.push(`mean of the other ${rows.rest.length} groups${range}`);
  }
  return text;
}

/** A line above the summary row of a chart's subplot `suffix` (none without a summary row). */
function restLine(rows, suffix = "", color = "#999") {
  if (!rows.rest.length) return [];
  const y = rows.shown.length - 0.5; // between the last shown category and the summary row
  return [{ type: "line", xref: `x${suffix} domain`, yref: `y${suffix}`, x0: 0, x1: 1, y0: y, y1: y, line: { color, width: 2 } }];
}

/** The hatch of the summary row, so that it never reads as one group. */
function hatch(rows) {
  return { shape: rows.labels.map((_, i) => (i < rows.shown.length ? "" : "/")), fillmode: "overlay", solidity: 0.35 };
}

/**
 * The "groups" choice above the charts when there are more groups than TOP_GROUPS (removed
 * otherwise); kept across renders. Returns "top" or "all".
 */
function groupsChoice(container, count, onChange) {
  let row = container.querySelector(":scope > p.ki-choices[data-choice=groups]");
  if (count <= TOP_GROUPS) {
    if (row) row.remove();
    return "top";
  }
  if (!row) {
    const select = el("select", { attrs: { "aria-label": "feature groups drawn", "data-groups": "" } });
    const label = el("label", { className: "ki-choice", children: [el("span", { text: "groups " }), select] });
    // A <p>: a paired panel's grid gives it the whole width, as its note.
    row = el("p", { className: "ki-choices", attrs: { "data-choice": "groups" }, children: [label] });
    container.prepend(row);
  }
  const select = row.querySelector("select");
  const current = select.value || "top";
  select.replaceChildren(
    el("option", { text: `the ${TOP_GROUPS} most salient, the other ${count - TOP_GROUPS} as their mean`, attrs: { value: "top" } }),
    el("option", { text: `all ${count}`, attrs: { value: "all" } }),
  );
  select.value = current;
  select.onchange = () => onChange(select.value);
  return select.value;
}

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

// In both charts, meta.groups lists the groups behind the rows, ranked; with meta.summarised
// > 0 the last row is the mean of the last meta.summarised of them.
function barTraces(ctx, results, rows) {
  const traces = [];
  const groups = [...rows.shown, ...rows.rest];
  const labels = rows.labels.map(plotlyText);
  for (const { run, value } of results.slice(0, MAX_BAR_RUNS)) {
    const runStep = ctx.stepFor(run);
    for (const dataset of ctx.state.datasets) {
      const series = (value.series || []).filter((s) => s.dataset === dataset);
      if (!series.length) continue;
      const valueOf = (group) => {
        const s = series.find((item) => item.extra && item.extra.group === group);
        return s ? valueAt(s.steps, s.values, runStep) : null;
      };
      traces.push({
        type: "bar",
        orientation: "h",
        y: labels,
        x: rowValues(rows, valueOf),
        customdata: rowHover(rows, valueOf),
        name: traceName(run.run, dataset),
        meta: { run: run.run, dataset, groups, summarised: rows.rest.length, step: runStep },
        offsetgroup: `${run.run}\u0000${dataset}`,
        marker: { color: ctx.traceStyle(run.run, dataset).color, opacity: ctx.traceStyle(run.run, dataset).opacity, pattern: hatch(rows) },
        hovertemplate: "%{fullData.name}<br>%{customdata}: %{x:.4g}<extra></extra>",
      });
    }
  }
  return traces;
}

function heatmapFigure(ctx, results, rows) {
  const dataset = ctx.state.dataset;
  const groups = [...rows.shown, ...rows.rest];
  const maps = [];
  for (const { run, value } of results) {
    if (maps.length === MAX_HEATMAPS) break;
    const { steps, z } = groupStepMatrix(value.series || [], groups, dataset);
    if (!steps.length) continue;
    // Rows of the shown groups, then the rest's mean at each step.
    const drawn = z.slice(0, rows.shown.length);
    const rest = z.slice(rows.shown.length);
    if (rest.length) drawn.push(steps.map((_, i) => (summary(rest.map((row) => row[i])) || { mean: null }).mean));
    maps.push({ run: run.run, steps, z: drawn });
  }
  const grid = subplotGrid(maps.map((m) => m.run), { cols: Math.max(1, maps.length), xGap: 0.1 });
  const zmax = Math.max(0, ...maps.flatMap((m) => m.z.flat().filter((v) => v !== null)));
  const hoverNames = [...rows.shown.map(plotlyText), `mean of the other ${rows.rest.length} groups`];
  const traces = maps.map((m, k) => ({
    type: "heatmap",
    x: m.steps,
    y: rows.labels.map(plotlyText),
    z: m.z,
    customdata: m.z.map((row, r) => row.map(() => hoverNames[r])),
    zmin: 0,
    zmax: zmax || 1,
    colorscale: "Viridis",
    showscale: k === maps.length - 1,
    colorbar: { thickness: 12, len: 0.9, title: { text: "saliency", side: "right" } },
    name: plotlyText(m.run),
    meta: { run: m.run, dataset, groups, summarised: rows.rest.length },
    xaxis: `x${grid.suffixes[k]}`,
    yaxis: `y${grid.suffixes[k]}`,
    hoverongaps: false,
    hovertemplate: "%{customdata} · step %{x}<br>saliency %{z:.4g}<extra></extra>",
  }));
  const shapes = grid.suffixes.flatMap((suffix) => restLine(rows, suffix, "#ffffff"));
  const layout = { ...grid.layout, shapes, margin: { l: 110, r: 10, t: maps.length > 1 ? 30 : 12, b: 44 } };
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
  description: `Mean |d output / d input| per feature group (Guo et al., Fig. 11; id features at their embedding's output): a group the model memorises stands out. A table has a group per column; past ${TOP_GROUPS}, the rest is drawn as one hatched row of their mean. Bars at the chosen checkpoint; heatmaps over training for the focus dataset.`,
  quantities: [QUANTITY],
  wide: true,
  pair: true,

  async render(container, ctx) {
    // Up to MAX_BAR_RUNS runs (more: a visible choice of which). Only what is drawn is fetched:
    // the shown datasets at the cursor for the bars, the focus dataset over training for the
    // heatmaps.
    const runs = runWindow(container, ctx, ctx.runs.filter((r) => r.quantities.includes(QUANTITY)), MAX_BAR_RUNS);
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
    const paint = async (choice) => {
      const rows = groupRows(groups, choice === "all" ? Infinity : TOP_GROUPS);
      const keep = [];
      const draws = [];
      // One row per label in both charts, most salient on top; tall enough for every label,
      // and for the grouped bars of several runs and datasets in a row.
      const bars = barTraces(ctx, atStep.ok, rows);
      const rowHeight = Math.min(36, Math.max(18, 3 * bars.length + 6));
      const height = `${Math.max(300, rowHeight * rows.labels.length + 90)}px`;
      const axis = { type: "category", automargin: true, autorange: "reversed", categoryorder: "array", categoryarray: rows.labels.map(plotlyText) };
      if (bars.length) {
        keep.push("saliency_bars");
        const layout = {
          barmode: "group",
          xaxis: { title: axisTitle("mean |d output / d input|"), rangemode: "tozero" },
          yaxis: { ...axis },
          shapes: restLine(rows),
          margin: { l: 110, r: 10, t: 12, b: 44 },
        };
        const div = chartDiv(container, "saliency_bars");
        div.style.height = height;
        draws.push(draw(div, bars, layout, ctx));
      }
      const heat = heatmapFigure(ctx, history.ok, rows);
      if (heat.count) {
        keep.push("saliency_heatmap");
        for (const key of Object.keys(heat.layout)) {
          if (/^yaxis\d*$/.test(key)) Object.assign(heat.layout[key], axis);
        }
        const div = chartDiv(container, "saliency_heatmap");
        div.style.height = height;
        draws.push(
          draw(div, heat.traces, heat.layout, ctx, {
            onStep: (step) => ctx.setStep(step),
            dataKey: dataKey(ctx, ctx.state.dataset, rows.labels.length),
          }),
        );
      }
      removeCharts(container, keep);
      setMessage(
        container,
        "note",
        joinNotes(
          failureText(failed),
          rows.rest.length ? `the ${rows.shown.length} most salient of ${groups.length} groups; the hatched row: mean of the others` : "",
          heat.count ? `heatmap: dataset ${ctx.state.dataset}` : `no saliency on dataset "${ctx.state.dataset}"`,
        ),
      );
      await Promise.all(draws);
    };
    const choice = groupsChoice(container, groups.length, (value) => {
      if (ctx.isCurrent()) paint(value);
    });
    await paint(choice);
  },
};
