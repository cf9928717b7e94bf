// The share of dead units per layer over training (one subplot per layer, colour = run, line
// style = dataset): units active on almost no sample. Apart from the layer std per dataset
// because it reads every checkpoint of every run (the heavier request), so it is drawn after
// the first screen.

import { axisTitle, chartDiv, draw, setMessage, stepLines, stepAxis } from "../charts.js";
import { allFailed, dataKey, failureText, joinNotes, perLayerTraces, perRun, SMALL_MULTIPLE_RUNS, smallMultipleDatasets, stepChoices, withStepChoices } from "../panel_kit.js";

const QUANTITY = "dead_fraction";

export default {
  id: "dead_units",
  title: "Dead units per layer",
  description: "Share of each layer's units active on almost no sample, over training: a climbing line is units that stopped contributing (Guo et al. saw about a quarter barely active).",
  quantities: [QUANTITY],
  wide: true,

  async render(container, ctx) {
    const runs = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    const { ok, failed } = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, QUANTITY, { datasets: smallMultipleDatasets(ctx) }));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    const { traces, grid, layers } = perLayerTraces(ctx, ok, "dead fraction");
    const div = chartDiv(container, QUANTITY);
    div.style.height = `${Math.max(1, grid.rows) * 250}px`;
    const layout = { ...grid.layout, shapes: stepLines(ctx.state.step, grid.suffixes), margin: { l: 60, r: 16, t: 30, b: 44 } };
    grid.suffixes.forEach((suffix, k) => {
      Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
      layout[`yaxis${suffix}`].rangemode = "tozero";
      if (k === 0) layout[`yaxis${suffix}`].title = axisTitle(layers.length === 1 ? `dead fraction (${layers[0]})` : "dead fraction");
    });
    const choices = stepChoices(container, ctx);
    const drawn = withStepChoices(traces, layout, choices);
    setMessage(
      container,
      "note",
      joinNotes(failureText(failed), ctx.runs.length > SMALL_MULTIPLE_RUNS ? `on ${ctx.state.dataset} only (more than ${SMALL_MULTIPLE_RUNS} runs)` : ""),
    );
    await draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, ctx.state.dataset, choices) });
  },
};
