// Fig. 7 of Guo et al.: the layer's average unit std per dataset at the chosen checkpoint
// (x = the ticked datasets, a marker per run, y from zero, for the chosen layer) - a
// label-free drift signal - and the share of dead units over training, one subplot per layer.

import { axisTitle, chartDiv, draw, hover, removeCharts, setMessage, stepLines, traceName, stepAxis } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, byOrder, dataKey, failureText, joinNotes, perLayerTraces, perRun, SMALL_MULTIPLE_RUNS, smallMultipleDatasets, stepChoices, valueAt, withStepChoices } from "../panel_kit.js";

async function fetchAll(ctx, quantity, filters) {
  const runs = ctx.runs.filter((r) => r.quantities.includes(quantity));
  return { runs, ...(await perRun(runs, (run) => ctx.model.fetchScalars(run.run, quantity, filters))) };
}

function layerStdTraces(ctx, results) {
  const layer = ctx.state.layer;
  // Datasets are the x axis: the ticked ones that a selected run has, nothing else.
  const ticked = ctx.datasetOrder.filter((d) => ctx.state.datasets.includes(d));
  const held = new Set(results.flatMap(({ value }) => (value.series || []).filter((s) => s.layer === layer).map((s) => s.dataset)));
  const shown = ticked.filter((d) => held.has(d));
  const traces = [];
  for (const { run, value } of results) {
    const series = (value.series || []).filter((s) => s.layer === layer && shown.includes(s.dataset));
    if (!series.length) continue;
    const ordered = byOrder(series, shown, (s) => s.dataset);
    const runStep = ctx.stepFor(run);
    // One marker per dataset, styled like that dataset's lines elsewhere (colour = run, or the
    // dataset's colour when one run is shown; symbol = dataset).
    const styles = ordered.map((s) => ctx.traceStyle(run.run, s.dataset));
    traces.push({
      type: "scatter",
      mode: "markers", // datasets are categories: no line between them
      x: ordered.map((s) => plotlyText(s.dataset)),
      y: ordered.map((s) => valueAt(s.steps, s.values, runStep)),
      name: traceName(run.run, layer),
      meta: { run: run.run, layer, datasets: ordered.map((s) => s.dataset), step: runStep },
      marker: { color: styles.map((s) => s.color), symbol: styles.map((s) => s.symbol), size: 11 },
      hovertemplate: hover("dataset", "layer std"),
    });
  }
  return { traces, categories: shown.map(plotlyText) };
}

function deadTraces(ctx, results) {
  return perLayerTraces(ctx, results, "dead fraction");
}

export default {
  id: "layer_std",
  title: "Layer std per dataset and dead units",
  description: "Average unit std of the chosen layer per dataset at the chosen checkpoint (Guo et al., Fig. 7; needs no labels), and the share of dead units per layer over training.",
  quantities: ["layer_std", "dead_fraction"],
  wide: true,

  async render(container, ctx) {
    // Fetch only what is drawn: every dataset of the chosen layer at the chosen checkpoint for
    // the std chart, the small multiples' datasets over training for dead fraction.
    const layers = ctx.state.layer ? [ctx.state.layer] : undefined;
    const [std, dead] = await Promise.all([
      fetchAll(ctx, "layer_std", { layers, datasets: ctx.state.datasets, step: ctx.state.step }),
      fetchAll(ctx, "dead_fraction", { datasets: smallMultipleDatasets(ctx) }),
    ]);
    if (!ctx.isCurrent()) return;
    const failed = [...std.failed, ...dead.failed];
    if (allFailed(container, std.ok.length + dead.ok.length, failed)) return;
    const keep = [];
    const draws = [];
    const notes = [failureText(failed)];

    if (std.ok.length) {
      const { traces, categories } = layerStdTraces(ctx, std.ok);
      if (!traces.length) notes.push(`no layer_std for layer "${ctx.state.layer}"`);
      keep.push("layer_std");
      const layout = {
        xaxis: { title: axisTitle("dataset"), type: "category", automargin: true, categoryorder: "array", categoryarray: categories },
        // From zero: a 0.4 % difference between datasets must not look like a drift spike.
        yaxis: { title: axisTitle(`layer std (${ctx.state.layer})`), rangemode: "tozero", automargin: true },
        margin: { l: 60, r: 16, t: 12, b: 44 },
      };
      draws.push(draw(chartDiv(container, "layer_std"), traces, layout, ctx));
    }
    if (dead.ok.length) {
      const { traces, grid, layers } = deadTraces(ctx, dead.ok);
      keep.push("dead_fraction");
      const div = chartDiv(container, "dead_fraction");
      div.style.height = `${Math.max(1, grid.rows) * 250}px`;
      const layout = {
        ...grid.layout,
        shapes: stepLines(ctx.state.step, grid.suffixes),
        margin: { l: 60, r: 16, t: 30, b: 44 },
      };
      grid.suffixes.forEach((suffix, k) => {
        Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
        layout[`yaxis${suffix}`].rangemode = "tozero";
        if (k === 0) layout[`yaxis${suffix}`].title = axisTitle("dead fraction");
      });
      if (layers.length === 1) {
        layout.yaxis.title = axisTitle(`dead fraction (${layers[0]})`);
      }
      const choices = stepChoices(container, ctx);
      const drawn = withStepChoices(traces, layout, choices);
      draws.push(draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, ctx.state.dataset, choices) }));
    }
    removeCharts(container, keep);
    notes.push(`layer std of ${ctx.state.layer} at step ${ctx.state.step}`);
    if (dead.ok.length && ctx.runs.length > SMALL_MULTIPLE_RUNS) {
      notes.push(`dead fraction on ${ctx.state.dataset} only (more than ${SMALL_MULTIPLE_RUNS} runs)`);
    }
    setMessage(container, "note", joinNotes(...notes));
    await Promise.all(draws);
  },
};
