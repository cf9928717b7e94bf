// CNNSlicer (Shen et al.), Fig. 13: the intra-sample entropy of each channel's feature maps (how
// much detail a channel keeps, in bits, averaged over the samples of a class), for the chosen
// convolutional layer on the focus dataset. Top: small multiples over training, one subplot
// per channel, one line per class (the grey line: all samples). Bottom, at the chosen
// checkpoint: classes x channels (the paper's circle packing, where the area of a circle is a
// channel's entropy for a class, drawn as a heatmap, which compares 32 channels across 11
// classes more exactly than circle areas) and each class's mean over channels (the size of the paper's
// first-level circle). First selected run that has the layer.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, stepAxis, stepLines, subplotGrid } from "../charts.js";
import { PALETTE } from "../colors.js";
import { plotlyText } from "../dom.js";
import { allFailed, dataKey, hasLayer, joinNotes, valueAt } from "../panel_kit.js";

const QUANTITY = "entropy_intra";
const ALL = "all";
const ALL_COLOR = "#555";
// Above this many channels the small multiples show the first ones (a note says so); the
// heatmap always shows every channel.
export const MAX_SMALL_MULTIPLES = 32;
const COLUMNS = 8;

/** Cells of a /history answer keyed by class, the classes in numeric order and "all" last. */
export function byClass(cells) {
  const entries = (cells || []).filter((c) => c.extra && c.extra.class !== undefined).map((c) => [c.extra.class, c]);
  const rank = (cls) => (cls === ALL ? Infinity : Number.isFinite(Number(cls)) ? Number(cls) : 1e9);
  entries.sort((a, b) => rank(a[0]) - rank(b[0]) || String(a[0]).localeCompare(String(b[0])));
  return new Map(entries);
}

/** Colour of a class line: the palette by position, grey for all samples. */
function classColor(cls, position) {
  return cls === ALL ? ALL_COLOR : PALETTE[position % PALETTE.length];
}

/** The layer this panel shows: the chosen one if it has the quantity, else the first that has. */
export function layerFor(run, chosen) {
  if (hasLayer(run, QUANTITY, chosen)) return chosen;
  const layers = (run.quantityLayers && run.quantityLayers[QUANTITY]) || [];
  return layers.length ? layers[0] : null;
}

function multiplesFigure(ctx, classes, channels) {
  const titles = Array.from({ length: channels }, (_, c) => `channel ${c}`);
  const grid = subplotGrid(titles, { cols: Math.min(COLUMNS, channels), xGap: 0.025, yGap: 0.3 / Math.max(1, Math.ceil(channels / COLUMNS)), shareY: true });
  const traces = [];
  [...classes.entries()].forEach(([cls, cell], position) => {
    const color = classColor(cls, position);
    for (let c = 0; c < channels; c += 1) {
      traces.push({
        type: "scatter",
        mode: "lines",
        x: cell.steps,
        y: cell.values.map((v) => (v ? v[c] : null)),
        name: plotlyText(cls === ALL ? "all samples" : `class ${cls}`),
        legendgroup: `class ${cls}`,
        showlegend: c === 0,
        meta: { class: cls, channel: c },
        xaxis: `x${grid.suffixes[c]}`,
        yaxis: `y${grid.suffixes[c]}`,
        line: { color, width: cls === ALL ? 2 : 1.1, dash: cls === ALL ? "dot" : "solid" },
        hovertemplate: `${plotlyText(cls === ALL ? "all" : `class ${cls}`)} · channel ${c} · step %{x}<br>%{y:.3f} bits<extra></extra>`,
      });
    }
  });
  const layout = { ...grid.layout, shapes: stepLines(ctx.state.step, grid.suffixes), showlegend: true, margin: { l: 48, r: 10, t: 24, b: 36 } };
  grid.suffixes.forEach((suffix, k) => {
    const column = k % grid.columns;
    const lastRow = Math.floor(k / grid.columns) === grid.rows - 1;
    const { title, ...ticks } = stepAxis(ctx.steps);
    Object.assign(layout[`xaxis${suffix}`], ticks, { showticklabels: lastRow, tickfont: { size: 9 } });
    if (lastRow && column === 0) layout[`xaxis${suffix}`].title = title;
    Object.assign(layout[`yaxis${suffix}`], { showticklabels: column === 0, tickfont: { size: 9 }, rangemode: "tozero" });
    if (k === 0) layout[`yaxis${suffix}`].title = axisTitle("bits");
  });
  return { traces, layout, rows: grid.rows };
}

/** Each class's vector at the run's checkpoint shown at the cursor: {rows: [[cls, vector]], step}. */
export function vectorsAt(classes, step) {
  const rows = [];
  let at = null;
  for (const [cls, cell] of classes) {
    const vector = valueAt(cell.steps, cell.values, step);
    if (!vector) continue;
    rows.push([cls, vector]);
    const shown = cell.steps.filter((s) => s <= step).pop();
    if (at === null || shown > at) at = shown;
  }
  return { rows, step: at };
}

function classesFigure(rows) {
  const labels = rows.map(([cls]) => (cls === ALL ? "all" : `class ${cls}`));
  const channels = rows[0][1].length;
  const means = rows.map(([, v]) => v.reduce((a, b) => a + (b ?? 0), 0) / v.length);
  const traces = [
    {
      type: "heatmap",
      x: Array.from({ length: channels }, (_, c) => c),
      y: labels,
      z: rows.map(([, v]) => v),
      colorscale: "Viridis",
      colorbar: { thickness: 12, len: 0.9, x: 0.8, title: { text: "bits", side: "right" } },
      xaxis: "x",
      yaxis: "y",
      meta: { classes: rows.map(([cls]) => cls) },
      hovertemplate: "%{y} · channel %{x}<br>%{z:.3f} bits<extra></extra>",
    },
    {
      // A dot per class rather than a bar: the means differ by tenths of a bit, which bars
      // starting at 0 would hide.
      type: "scatter",
      mode: "markers",
      x: means,
      y: labels,
      xaxis: "x2",
      yaxis: "y2",
      marker: { size: 10, color: rows.map(([cls], i) => classColor(cls, i)) },
      meta: { means },
      showlegend: false,
      hovertemplate: "%{y}: mean %{x:.3f} bits over channels<extra></extra>",
    },
  ];
  const category = { type: "category", autorange: "reversed", showgrid: false };
  const layout = {
    xaxis: { domain: [0, 0.74], title: axisTitle("channel"), showgrid: false, dtick: channels > 32 ? 8 : channels > 16 ? 2 : 1 },
    yaxis: { ...category, domain: [0, 1], anchor: "x" },
    xaxis2: { domain: [0.86, 1], title: axisTitle("mean over channels (bits)"), anchor: "y2" },
    yaxis2: { ...category, domain: [0, 1], anchor: "x2", matches: "y", showticklabels: false },
    margin: { l: 64, r: 10, t: 12, b: 44 },
  };
  return { traces, layout };
}

export default {
  id: "entropy_intra",
  title: "Intra-sample entropy per channel",
  description: "How much detail each channel's feature maps keep, per class (CNNSlicer Fig. 13; 32-bin histogram entropy of each map, averaged over the samples of a class): over training per channel, and per class and channel at the chosen checkpoint.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded entropy_intra; use quantities=\"full\" on a model with convolutional or sequence layers to see this panel.",

  async render(container, ctx) {
    const dataset = ctx.state.dataset;
    const run = ctx.runs.find((r) => r.quantities.includes(QUANTITY) && layerFor(r, ctx.state.layer) !== null && r.datasets.includes(dataset));
    if (!run) {
      removeCharts(container);
      setMessage(container, "note", `No intra-sample entropies on dataset "${dataset}".`);
      return;
    }
    const layer = layerFor(run, ctx.state.layer);
    let answer = null;
    let failed = [];
    try {
      answer = await ctx.model.fetchHistory(run.run, QUANTITY, { dataset, layer });
    } catch (error) {
      failed = [{ run, error }];
    }
    if (!ctx.isCurrent()) return;
    const classes = byClass(answer && answer.cells);
    if (allFailed(container, classes.size ? 1 : 0, failed, `No intra-sample entropies for layer "${layer}" on dataset "${dataset}".`)) return;
    const total = Math.max(...[...classes.values()].flatMap((c) => c.values.map((v) => (v ? v.length : 0))));
    const channels = Math.min(total, MAX_SMALL_MULTIPLES);
    const draws = [];
    const keep = ["entropy_intra_lines"];
    const multiples = multiplesFigure(ctx, classes, channels);
    const lines = chartDiv(container, "entropy_intra_lines");
    lines.style.height = `${120 + multiples.rows * 110}px`;
    draws.push(draw(lines, multiples.traces, multiples.layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, run.run, dataset, layer) }));
    const at = vectorsAt(classes, ctx.stepFor(run) ?? ctx.state.step);
    if (at.rows.length) {
      keep.push("entropy_intra_classes");
      const fig = classesFigure(at.rows);
      const div = chartDiv(container, "entropy_intra_classes");
      div.style.height = `${Math.max(260, 60 + at.rows.length * 24)}px`;
      draws.push(draw(div, fig.traces, fig.layout, ctx));
    }
    removeCharts(container, keep);
    setMessage(
      container,
      "note",
      joinNotes(
        `${run.run} · layer ${layer} · ${dataset}`,
        layer !== ctx.state.layer ? `layer "${ctx.state.layer}" has none (not a map layer)` : "",
        channels < total ? `first ${channels} of ${total} channels over steps` : "",
        at.step !== null ? `classes x channels at step ${at.step}` : "",
        ctx.runs.length > 1 ? "first selected run with it" : "",
      ),
    );
    await Promise.all(draws);
  },
};
