// TSViz (Siddiqui et al., Figs. 3, 4 and 7): how much each unit or filter of the chosen layer
// influences the output at the chosen checkpoint (sum over positions of |d output / d z|,
// min-max scaled within the layer), sorted from most to least important on the focus dataset.
// The other shown datasets are markers on the same units. A percentile slider keeps only the
// units at or above that percentile of importance, as in TSViz's percentile filter.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid, traceName } from "../charts.js";
import { el } from "../dom.js";
import { allFailed, checkpointFor, failureText, flatValues, hasLayer, joinNotes, perRun, rememberChoice, rememberedChoice, runWindow } from "../panel_kit.js";

const QUANTITY = "filter_importance";
export const MAX_RUNS = 4;

/** Units sorted by decreasing `values`, keeping those >= the `percentile` of the values. */
export function rankedUnits(values, percentile = 0) {
  const finite = values.map((v, unit) => ({ unit, v })).filter(({ v }) => Number.isFinite(v));
  if (!finite.length) return [];
  const sorted = finite.map(({ v }) => v).sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, percentile)) / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const cut = sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (rank - low);
  return finite
    .filter(({ v }) => v >= cut)
    .sort((a, b) => b.v - a.v || a.unit - b.unit)
    .map(({ unit }) => unit);
}

function slider(container, onChange) {
  let wrap = container.querySelector(":scope > .ki-percentile");
  if (!wrap) {
    const input = el("input", {
      attrs: { type: "range", min: "0", max: "95", step: "5", value: "0", "data-percentile": "", "aria-label": "importance percentile" },
    });
    const label = el("span", { className: "ki-percentile-label", text: "all units" });
    wrap = el("label", { className: "ki-percentile", children: [el("span", { text: "show units at or above percentile " }), input, label] });
    container.prepend(wrap);
    const remembered = Number(rememberedChoice(container, "percentile"));
    if (Number.isFinite(remembered)) input.value = String(remembered); // from the page address
  }
  const input = wrap.querySelector("input");
  input.oninput = () => {
    rememberChoice(container, "percentile", input.value);
    onChange(Number(input.value));
  };
  return Number(input.value);
}

function figure(ctx, results, percentile) {
  const focus = ctx.state.dataset;
  const rows = [];
  for (const { run, value } of results) {
    const cells = (value.cells || []).filter((c) => c.layer === ctx.state.layer);
    const main = cells.find((c) => c.dataset === focus) || cells[0];
    if (main) rows.push({ run: run.run, main, cells, step: value.step });
  }
  const grid = subplotGrid(rows.map((r) => `${r.run} · step ${r.step}`), { cols: 1, yGap: rows.length > 1 ? 0.14 : 0 });
  const traces = [];
  let shown = 0;
  let total = 0;
  rows.forEach((row, k) => {
    const values = flatValues(row.main);
    const order = rankedUnits(values, percentile);
    shown = Math.max(shown, order.length);
    total = Math.max(total, values.length);
    const labels = order.map((unit) => `unit ${unit}`);
    const axes = { xaxis: `x${grid.suffixes[k]}`, yaxis: `y${grid.suffixes[k]}` };
    traces.push({
      type: "bar",
      x: labels,
      y: order.map((unit) => values[unit]),
      name: traceName(row.run, row.main.dataset),
      meta: { run: row.run, dataset: row.main.dataset, layer: row.main.layer, units: order },
      marker: { color: ctx.traceStyle(row.run, row.main.dataset).color, opacity: 0.85 },
      hovertemplate: "%{fullData.name}<br>%{x}: %{y:.3f}<extra></extra>",
      ...axes,
    });
    for (const cell of row.cells) {
      if (cell === row.main || !ctx.state.datasets.includes(cell.dataset)) continue;
      const other = flatValues(cell);
      const style = ctx.traceStyle(row.run, cell.dataset);
      traces.push({
        type: "scatter",
        mode: "markers",
        x: labels,
        y: order.map((unit) => other[unit] ?? null),
        name: traceName(row.run, cell.dataset),
        meta: { run: row.run, dataset: cell.dataset, layer: cell.layer, units: order },
        marker: { color: ctx.colorByDataset ? style.color : "#222", symbol: style.symbol, size: 6, opacity: 0.8 },
        hovertemplate: "%{fullData.name}<br>%{x}: %{y:.3f}<extra></extra>",
        ...axes,
      });
    }
  });
  const layout = { ...grid.layout, bargap: 0.15, margin: { l: 60, r: 16, t: rows.length > 1 ? 26 : 12, b: 60 } };
  grid.suffixes.forEach((suffix) => {
    layout[`xaxis${suffix}`].type = "category";
    layout[`xaxis${suffix}`].showgrid = false;
    layout[`xaxis${suffix}`].showticklabels = shown <= 40;
    layout[`yaxis${suffix}`].range = [0, 1.05];
    layout[`yaxis${suffix}`].title = axisTitle("importance");
  });
  const last = grid.suffixes[grid.suffixes.length - 1];
  if (last !== undefined) layout[`xaxis${last}`].title = axisTitle(`units by importance on ${focus}`);
  return { traces, layout, count: rows.length, shown, total };
}

export default {
  id: "importance",
  title: "Filter importance",
  description: "Influence of each unit of the chosen layer on the output at the chosen checkpoint (TSViz: sum over positions of |d output / d pre-activation|, scaled to [0, 1] per layer), sorted on the focus dataset; markers show the other datasets. Low-ranked filters are candidates for pruning.",
  quantities: [QUANTITY],
  wide: true,

  async render(container, ctx) {
    const layer = ctx.state.layer;
    const runs = runWindow(container, ctx, ctx.runs.filter((r) => hasLayer(r, QUANTITY, layer)), MAX_RUNS);
    const missing = [];
    const { ok, failed } = await perRun(runs, async (run) => {
      // layer_std is recorded at every checkpoint of the standard preset: it tells which exist.
      const step = await checkpointFor(ctx, run, "layer_std", { layer });
      if (step === null) {
        missing.push(run.run);
        return undefined;
      }
      return ctx.model.fetchValues(run.run, QUANTITY, step, { layer });
    });
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed, `No filter importance for layer "${layer}" (a layer of one unit has none).`)) return;
    const paint = async (percentile) => {
      const fig = figure(ctx, ok, percentile);
      const label = container.querySelector(".ki-percentile-label");
      if (label) label.textContent = percentile ? `${fig.shown} of ${fig.total} units` : `all ${fig.total} units`;
      if (!fig.count) {
        removeCharts(container);
        return;
      }
      const div = chartDiv(container, QUANTITY);
      div.style.height = `${140 + 200 * fig.count}px`;
      await draw(div, fig.traces, fig.layout, ctx);
    };
    const percentile = slider(container, (value) => {
      if (ctx.isCurrent()) paint(value);
    });
    setMessage(
      container,
      "note",
      joinNotes(
        failureText(failed),
        missing.length ? `${missing.length} run(s) have no importance for ${layer} at or before step ${ctx.state.step}` : "",
        `layer ${layer}`,
      ),
    );
    await paint(percentile);
  },
};
