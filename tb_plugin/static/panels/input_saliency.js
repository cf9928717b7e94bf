// TSViz input saliency (Siddiqui et al., eq. 13-15 and Fig. 6, right): which points of one
// fixed input sample the output, and the chosen layer, respond to (|d . / d input|), drawn over
// the input itself: for a sequence, each channel's signal with its points coloured by saliency;
// for an image, the saliency as a translucent heatmap over the (channel-averaged) image; for a
// feature vector, a bar per feature. Focus dataset, first selected run, chosen checkpoint. Each
// map is scaled to its own maximum: the output's and a layer's gradients differ in size.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, subplotGrid } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, joinNotes, panelChoice } from "../panel_kit.js";

const QUANTITY = "input_saliency";
const INPUT = "feature_maps"; // layer "input": the samples the maps belong to
const HEAT = [
  [0, "rgba(255,255,255,0)"],
  [0.3, "rgba(252,146,114,0.45)"],
  [1, "rgba(165,15,21,0.85)"],
];

/** The cell of `cells` for a sample (and input name, for multi-input models). */
export function sampleCell(cells, layer, sample, group) {
  return (cells || []).find(
    (c) => c.layer === layer && c.extra && c.extra.sample === sample && (group === undefined || c.extra.group === group),
  );
}

/** Per channel (last axis) of a (T, C) array: the T values. */
export function channels(values) {
  const rows = values.map((row) => (Array.isArray(row) ? row : [row]));
  const count = rows.length ? rows[0].length : 0;
  return Array.from({ length: count }, (_, c) => rows.map((row) => row[c]));
}

/** Mean over the last axis of an (H, W, C) array: an (H, W) array. */
export function channelMean(values) {
  return values.map((row) => row.map((px) => (Array.isArray(px) ? px.reduce((a, b) => a + b, 0) / px.length : px)));
}

function figure(input, maps, titles) {
  const shape = input.shape;
  const grid = subplotGrid(titles, { cols: titles.length, xGap: 0.08 });
  const traces = [];
  const layout = { ...grid.layout, margin: { l: 56, r: 16, t: 30, b: 44 } };
  maps.forEach((map, k) => {
    const axes = { xaxis: `x${grid.suffixes[k]}`, yaxis: `y${grid.suffixes[k]}` };
    if (shape.length >= 3) {
      // An image: the saliency over the channel-averaged picture.
      traces.push({ type: "heatmap", z: channelMean(input.values), colorscale: "Greys", reversescale: true, showscale: false, hoverinfo: "skip", ...axes });
      const z = channelMean(map.values);
      traces.push({
        type: "heatmap",
        z,
        zmin: 0,
        zmax: Math.max(1e-12, ...z.flat()),
        colorscale: HEAT,
        showscale: false,
        meta: { kind: "saliency", layer: map.layer },
        hovertemplate: "row %{y}, column %{x}<br>|grad| %{z:.3g}<extra></extra>",
        ...axes,
      });
      layout[`yaxis${grid.suffixes[k]}`].autorange = "reversed";
      layout[`yaxis${grid.suffixes[k]}`].scaleanchor = `x${grid.suffixes[k]}`;
      layout[`xaxis${grid.suffixes[k]}`].constrain = "domain";
      layout[`yaxis${grid.suffixes[k]}`].constrain = "domain";
    } else if (shape.length === 2) {
      // A sequence: each channel's signal, its points coloured by saliency.
      const signal = channels(input.values);
      const weight = channels(map.values);
      const top = Math.max(1e-12, ...weight.flat());
      signal.forEach((y, c) => {
        traces.push({
          type: "scatter",
          mode: "lines+markers",
          x: y.map((_, t) => t),
          y,
          name: `channel ${c}`,
          meta: { kind: "saliency", layer: map.layer, channel: c, saliency: weight[c] },
          line: { color: "#9e9e9e", width: 1, dash: c ? "dot" : "solid" },
          customdata: weight[c],
          marker: { color: weight[c], cmin: 0, cmax: top, colorscale: "Reds", size: weight[c].map((w) => 4 + 8 * (w / top)) },
          hovertemplate: `channel ${c} · t %{x}<br>value %{y:.3g} · |grad| %{customdata:.3g}<extra></extra>`,
          ...axes,
        });
      });
      layout[`xaxis${grid.suffixes[k]}`].title = axisTitle("time step");
    } else {
      // A feature vector: one bar per feature.
      traces.push({
        type: "bar",
        x: map.values.map((_, i) => `feature ${i}`),
        y: map.values,
        customdata: input.values,
        meta: { kind: "saliency", layer: map.layer },
        marker: { color: "#b2182b" },
        hovertemplate: "%{x} = %{customdata:.3g}<br>|grad| %{y:.3g}<extra></extra>",
        ...axes,
      });
      layout[`xaxis${grid.suffixes[k]}`].type = "category";
    }
  });
  return { traces, layout };
}

export default {
  id: "input_saliency",
  title: "Input saliency",
  description: "Which points of a fixed input sample the output (left) and the chosen layer (right) respond to, |d / d input| drawn over the input (TSViz): sequences as signals with salient points larger and redder, images as a heatmap over the picture; each map scaled to its own maximum.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded input_saliency; add quantities=\"full\" to InspectCallback to see which input points each layer responds to.",

  async render(container, ctx) {
    const { layer, dataset } = ctx.state;
    const run = ctx.runs.find((r) => r.quantities.includes(QUANTITY) && r.datasets.includes(dataset));
    if (!run) {
      removeCharts(container);
      setMessage(container, "note", `No input saliency on dataset "${dataset}".`);
      return;
    }
    let maps;
    let inputs;
    let failed = [];
    try {
      // Recorded at the checkpoints of the maps themselves: read it at the cursor.
      const step = await checkpointFor(ctx, run, "layer_std", { dataset });
      if (step !== null) {
        [maps, inputs] = await Promise.all([
          ctx.model.fetchValues(run.run, QUANTITY, step, { dataset }),
          ctx.model.fetchValues(run.run, INPUT, step, { dataset, layer: "input" }),
        ]);
      }
    } catch (error) {
      failed = [{ run: run.run, error }];
    }
    if (!ctx.isCurrent()) return;
    const samples = [...new Set(((inputs && inputs.cells) || []).map((c) => c.extra && c.extra.sample))].filter(Boolean).sort();
    if (allFailed(container, samples.length ? 1 : 0, failed, `No input saliency on dataset "${dataset}" at or before step ${ctx.state.step}.`)) return;
    const group = inputs.cells[0].extra.group; // the first float input of a multi-input model
    const paint = async (sample) => {
      const input = sampleCell(inputs.cells, "input", sample, group);
      const chosen = [
        { layer: "", title: "output" },
        { layer, title: `layer ${layer}` },
      ]
        .map((goal) => ({ ...goal, cell: sampleCell(maps.cells, goal.layer, sample, group) }))
        .filter((goal) => goal.cell);
      if (!input || !chosen.length) {
        removeCharts(container);
        setMessage(container, "note", `No saliency map of sample ${sample} for layer "${layer}".`);
        return;
      }
      const fig = figure(input, chosen.map((goal) => ({ ...goal.cell, layer: goal.layer })), chosen.map((goal) => `|d ${goal.title} / d input|`));
      const div = chartDiv(container, QUANTITY);
      div.style.height = input.shape.length >= 3 ? "380px" : "320px";
      await draw(div, fig.traces, fig.layout, ctx);
    };
    const options = samples.map((_, i) => ({ value: String(i), text: String(i) }));
    const sample = panelChoice(container, "sample", "sample", options, (value) => {
      if (ctx.isCurrent()) paint(value);
    });
    setMessage(
      container,
      "note",
      joinNotes(`${run.run} · ${dataset} · step ${maps.step}`, group ? `input ${plotlyText(group)}` : "", ctx.runs.length > 1 ? "first selected run" : ""),
    );
    await paint(sample);
  },
};
