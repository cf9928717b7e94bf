// Fig. 7 of Guo et al.: the layer's average unit std per dataset at the chosen checkpoint
// (x = the ticked datasets, a marker per run, y from zero, for the chosen layer): a label-free
// drift signal. One small request per run at one step, so it can sit in the first screen; the
// dead fraction over training (heavier: every step) is the dead_units panel.

import { axisTitle, chartDiv, draw, hover, setMessage, traceName } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, byOrder, failureText, joinNotes, perRun, valueAt } from "../panel_kit.js";

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

export default {
  id: "layer_std",
  title: "Layer std per dataset",
  description: "Average unit std of the chosen layer per dataset at the chosen checkpoint (Guo et al., Fig. 7; needs no labels): a dataset far from train is one the model treats differently.",
  quantities: ["layer_std"],
  wide: true,

  async render(container, ctx) {
    // Only what is drawn: the ticked datasets of the chosen layer at the chosen checkpoint.
    const layers = ctx.state.layer ? [ctx.state.layer] : undefined;
    const runs = ctx.runs.filter((r) => r.quantities.includes("layer_std"));
    const std = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, "layer_std", { layers, datasets: ctx.state.datasets, step: ctx.state.step }));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, std.ok.length, std.failed)) return;
    const { traces, categories } = layerStdTraces(ctx, std.ok);
    const layout = {
      xaxis: { title: axisTitle("dataset"), type: "category", automargin: true, categoryorder: "array", categoryarray: categories },
      // From zero: a 0.4 % difference between datasets must not look like a drift spike.
      yaxis: { title: axisTitle(`layer std (${ctx.state.layer})`), rangemode: "tozero", automargin: true },
      margin: { l: 60, r: 16, t: 12, b: 44 },
    };
    setMessage(
      container,
      "note",
      joinNotes(failureText(std.failed), traces.length ? "" : `no layer_std for layer "${ctx.state.layer}"`, `layer std of ${ctx.state.layer} at step ${ctx.state.step}`),
    );
    await draw(chartDiv(container, "layer_std"), traces, layout, ctx);
  },
};
