// CNNSlicer (Shen et al., section 4.4.1 and Fig. 4): the inter-sample entropy of each layer's
// output over training, the model input first: how diverse the samples still are after each
// layer (information the network discards shows as a drop from one layer to the next). One
// subplot per layer; colour = run, line style = dataset.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, stepLines, stepAxis } from "../charts.js";
import { allFailed, dataKey, failureText, joinNotes, perLayerTraces, perRun, smallMultipleDatasets, stepChoices, withStepChoices } from "../panel_kit.js";

const QUANTITY = "entropy_inter";

export default {
  id: "entropy_inter",
  title: "Inter-sample entropy per layer",
  description: "How diverse the samples are in the input and after each layer over training (CNNSlicer, kNN entropy in bits): a layer that discards information shows a drop from the one before.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run recorded entropy_inter; use quantities=\"full\" to see this panel.",

  async render(container, ctx) {
    const runs = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    const { ok, failed } = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, QUANTITY, { datasets: smallMultipleDatasets(ctx) }));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    // The pseudo-layer "input" is not a layer choice, but it is the first subplot here.
    const { traces, grid, layers } = perLayerTraces({ ...ctx, layers: ["input", ...ctx.layers] }, ok, "bits");
    const div = chartDiv(container, QUANTITY);
    div.style.height = `${Math.max(1, grid.rows) * 250}px`;
    const layout = { ...grid.layout, shapes: stepLines(ctx.state.step, grid.suffixes), margin: { l: 60, r: 16, t: 30, b: 44 } };
    grid.suffixes.forEach((suffix, k) => {
      Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
      if (k === 0) layout[`yaxis${suffix}`].title = axisTitle("entropy (bits)");
    });
    const choices = stepChoices(container, ctx);
    const drawn = withStepChoices(traces, layout, choices);
    removeCharts(container, [QUANTITY]);
    setMessage(container, "note", joinNotes(failureText(failed), `${layers.length} layers, the input first`));
    await draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, ctx.state.dataset, choices) });
  },
};
