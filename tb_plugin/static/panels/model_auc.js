// Fig. 1 of Guo et al.: ROC AUC of the model output per dataset over training steps, one line
// per (run, dataset). Clicking a point moves the checkpoint cursor.

import { aucAxis, chartDiv, draw, setMessage, stepLines, stepAxis } from "../charts.js";
import { allFailed, dataKey, failureText, joinNotes, lineTrace, perRun, stepChoices, withStepChoices } from "../panel_kit.js";

export default {
  id: "model_auc",
  title: "Model AUC per dataset",
  description: "ROC AUC of the model output on each dataset over training (Guo et al., Fig. 1): test curves that fall while train rises mean over-fitting.",
  quantities: ["model_auc"],

  async render(container, ctx) {
    const runs = ctx.runs.filter((r) => r.quantities.includes("model_auc"));
    const datasets = ctx.state.datasets; // only the shown datasets are drawn
    const { ok, failed } = await perRun(runs, (run) => ctx.model.fetchScalars(run.run, "model_auc", { datasets }));
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    const shown = new Set(ctx.state.datasets);
    const traces = [];
    for (const { run, value } of ok) {
      for (const s of value.series || []) {
        if (!shown.has(s.dataset)) continue;
        const label = s.extra && s.extra.class ? `${s.dataset} class ${s.extra.class}` : s.dataset;
        traces.push(lineTrace(ctx, { run: run.run, dataset: s.dataset, label, x: s.steps, y: s.values, yLabel: "AUC" }));
      }
    }
    setMessage(container, "note", joinNotes(failureText(failed), traces.length ? "" : "None of the shown datasets has model_auc."));
    const layout = {
      xaxis: stepAxis(ctx.steps),
      yaxis: aucAxis("AUC", traces),
      shapes: stepLines(ctx.state.step),
      margin: { l: 60, r: 16, t: 16, b: 44 },
    };
    const choices = stepChoices(container, ctx);
    const drawn = withStepChoices(traces, layout, choices);
    const div = chartDiv(container, "model_auc");
    div.style.height = "400px"; // as tall as the loss beside it (two rows of metrics)
    await draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step), dataKey: dataKey(ctx, choices) });
  },
};
