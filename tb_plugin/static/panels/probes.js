// Fig. 10 of Guo et al. (transposed): linear-probe AUC per layer at the chosen checkpoint
// (x = layer in model order, one line per (run, dataset)), and the probe AUC of the chosen layer
// over training. A run with probe_r2 (continuous target) and no probe_auc shows R² instead.

import { aucAxis, axisTitle, chartDiv, draw, hover, removeCharts, setMessage, stepLines, stepAxis } from "../charts.js";
import { plotlyText } from "../dom.js";
import { allFailed, allRegression, dataKey, failureText, joinNotes, lineTrace, perRun, stepChoices, valueAt, withStepChoices } from "../panel_kit.js";

/** The probe quantity a run is shown with: probe_auc, else probe_r2. */
export function probeQuantity(runInfo) {
  return runInfo.quantities.includes("probe_auc") ? "probe_auc" : "probe_r2";
}

/** Whether every run is shown with probe AUCs: they get a fixed honest range; R² (which can be
 * far below 0) keeps Plotly's. */
function onlyAucOf(results) {
  return results.every(({ run }) => probeQuantity(run) === "probe_auc");
}

function axisName(quantities) {
  const names = [...new Set(quantities)].map((q) => (q === "probe_auc" ? "probe AUC" : "probe R²"));
  return names.join(" / ") || "probe AUC";
}

export default {
  id: "probes",
  title: "Linear probes per layer",
  description: "How well a logistic probe trained on each layer's output predicts the label, per dataset (Guo et al., Fig. 10): a layer that adds nothing over the previous one is a candidate for removal.",
  quantities: ["probe_auc", "probe_r2"],
  describeFor: (runs) =>
    allRegression(runs)
      ? "How well a ridge-regression probe trained on each layer's output predicts the target, per dataset (R²: 1 is perfect, 0 no better than the mean; Guo et al., Fig. 10): a layer that adds nothing over the previous one is a candidate for removal."
      : null,
  wide: true,
  pair: true, // the two charts side by side on wide screens

  async render(container, ctx) {
    const datasets = ctx.state.datasets; // only the shown datasets are drawn
    const chosen = ctx.state.layer;
    // Every layer at the chosen checkpoint, and the chosen layer over training.
    const { ok, failed } = await perRun(ctx.runs, async (run) => {
      const [atStep, history] = await Promise.all([
        ctx.model.fetchScalars(run.run, probeQuantity(run), { datasets, step: ctx.state.step }),
        chosen ? ctx.model.fetchScalars(run.run, probeQuantity(run), { datasets, layers: [chosen] }) : { series: [] },
      ]);
      return { series: atStep.series || [], history: history.series || [] };
    });
    if (!ctx.isCurrent()) return;
    if (allFailed(container, ok.length, failed)) return;
    const shownOrder = ctx.datasetOrder.filter((d) => ctx.state.datasets.includes(d));
    const layerOrder = ctx.layers.filter((layer) => ok.some(({ value }) => (value.series || []).some((s) => s.layer === layer)));
    const yName = axisName(ok.map(({ run }) => probeQuantity(run)));

    const byLayer = [];
    const overSteps = [];
    for (const { run, value } of ok) {
      const runStep = ctx.stepFor(run);
      const series = value.series || [];
      for (const dataset of shownOrder) {
        const mine = series.filter((s) => s.dataset === dataset);
        if (!mine.length) continue;
        const points = layerOrder
          .map((layer) => mine.find((s) => s.layer === layer))
          .filter(Boolean)
          .map((s) => ({ layer: s.layer, y: valueAt(s.steps, s.values, runStep) }));
        const trace = lineTrace(ctx, {
          run: run.run,
          dataset,
          x: points.map((p) => plotlyText(p.layer)),
          y: points.map((p) => p.y),
          xLabel: "layer",
          yLabel: yName,
          extra: { quantity: probeQuantity(run), layers: points.map((p) => p.layer), step: runStep },
        });
        trace.mode = "lines+markers";
        trace.hovertemplate = hover("layer", yName);
        byLayer.push(trace);
        const own = value.history.find((s) => s.dataset === dataset && s.layer === chosen);
        if (own) {
          overSteps.push(
            lineTrace(ctx, { run: run.run, dataset, x: own.steps, y: own.values, yLabel: yName, extra: { layer: chosen, quantity: probeQuantity(run) } }),
          );
        }
      }
    }
    const margin = { l: 60, r: 16, t: 12, b: 44 };
    const choices = stepChoices(container, ctx);
    const stepLayout = {
      xaxis: stepAxis(ctx.steps),
      yaxis: onlyAucOf(ok) ? aucAxis(`${yName} (${chosen})`, overSteps) : { title: axisTitle(`${yName} (${chosen})`), automargin: true },
      shapes: stepLines(ctx.state.step),
      margin,
    };
    const stepTraces = withStepChoices(overSteps, stepLayout, choices);
    const onlyAuc = onlyAucOf(ok);
    const draws = [
      draw(
        chartDiv(container, "probe_by_layer"),
        byLayer,
        {
          xaxis: { title: axisTitle("layer"), type: "category", automargin: true, categoryorder: "array", categoryarray: layerOrder.map(plotlyText) },
          yaxis: onlyAuc ? aucAxis(yName, byLayer) : { title: axisTitle(yName), automargin: true },
          margin,
        },
        ctx,
      ),
      draw(chartDiv(container, "probe_over_steps"), stepTraces, stepLayout, ctx, {
        onStep: (step) => ctx.setStep(step),
        dataKey: dataKey(ctx, chosen, choices),
      }),
    ];
    removeCharts(container, ["probe_by_layer", "probe_over_steps"]);
    setMessage(
      container,
      "note",
      joinNotes(failureText(failed), overSteps.length ? "" : `no probe for layer "${chosen}"`, `per layer at step ${ctx.state.step}`),
    );
    await Promise.all(draws);
  },
};
