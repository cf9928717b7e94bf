// The panel registry. A panel is one module under ./panels/ exporting a default object
//
//   {
//     id,                  // data-panel attribute of its <section class="ki-panel">
//     title,               // its <h2>
//     description?,        // one sentence under the title
//     quantities: [...],   // shown when a selected run has any of these (see SPEC.md)
//     available?(runInfo), // overrides the `quantities` test (e.g. the loss panel uses /logs)
//     hint?,               // what would fill it, listed at the end when no selected run qualifies
//     titleFor?(runs), describeFor?(runs),  // title / description for these runs (null: the
//                          // default), e.g. regression words when every run is a regression
//     wide?, pair?,        // full grid width; two charts side by side
//     render(container, ctx),
//   }
//
// and is listed in PANELS once (order here is order on the page, among the panels with data;
// those without are folded into one line at the end); a new panel is one new module plus one
// line below. The first ones answer "is this run healthy?" at a glance: loss beside model AUC,
// then per-dataset drift (one cheap request
// a run, so the first screen stays fast) and dead units.
//
// render() owns `container` (the panel body): it creates its charts with charts.chartDiv(),
// draws them with charts.draw() (Plotly.react, so charts are updated rather than re-created),
// and reports problems with charts.setMessage(container, "note" | "error", text). It must check
// ctx.isCurrent() after every await before touching the DOM. `ctx` holds:
//   runs          selected runs that have this panel's data: /runs entries {run, steps,
//                 datasets, layers, quantities, classes, logs}
//   state         {runs, dataset (focus), datasets (shown in overlays), layer, step}
//   layers, steps layer order and checkpoint steps of the selected runs
//   datasetOrder  dataset order (train first, then as the runs list them)
//   datasetIndex(name)  the dataset's line-style slot (colors.datasetStyle; state.styleIndex)
//   traceStyle(run, dataset)  {color, dash, symbol, opacity} of that pair's traces (colors.js:
//                 colour by run, or by dataset when one run is selected)
//   stepFor(run)  the run's checkpoint shown at state.step (latest <= step) or null
//   setStep(step) move the checkpoint cursor for every panel
//   setLayer(layer) choose the layer for every panel
//   model         model.js (fetchScalars, fetchValues, fetchLogs; cached)
//   isCurrent(), dataVersion, changed (Set of state keys changed since the last render)
//   redraw()      draws this panel again (after a choice of its own, e.g. panel_kit.runWindow)
// User-supplied names go to Plotly only through dom.plotlyText / charts.traceName / axisTitle.

import loss from "./panels/loss.js";
import overview from "./panels/overview.js";
import modelAuc from "./panels/model_auc.js";
import scoreHist from "./panels/score_hist.js";
import neurons from "./panels/neurons.js";
import layerStd from "./panels/layer_std.js";
import deadUnits from "./panels/dead_units.js";
import correlation from "./panels/correlation.js";
import probes from "./panels/probes.js";
import ckaSteps from "./panels/cka_steps.js";
import ckaRuns from "./panels/cka_runs.js";
import projection from "./panels/projection.js";
import weightsHinton from "./panels/weights_hinton.js";
import samples from "./panels/samples.js";
import saliency from "./panels/saliency.js";
import importance from "./panels/importance.js";
import clusters from "./panels/clusters.js";
import inputSaliency from "./panels/input_saliency.js";
import information from "./panels/information.js";
import entropyInter from "./panels/entropy_inter.js";
import entropyIntra from "./panels/entropy_intra.js";
import channelCapacity from "./panels/channel_capacity.js";

export const PANELS = [
  loss,
  modelAuc,
  layerStd,
  deadUnits,
  scoreHist,
  saliency,
  probes,
  ckaSteps,
  ckaRuns,
  overview,
  neurons,
  correlation,
  projection,
  samples,
  weightsHinton,
  importance,
  clusters,
  inputSaliency,
  information,
  entropyInter,
  entropyIntra,
  channelCapacity,
];

/** Whether `runInfo` has anything `panel` can draw. */
export function panelAvailable(panel, runInfo) {
  if (typeof panel.available === "function") return Boolean(panel.available(runInfo));
  const have = new Set(runInfo.quantities || []);
  return panel.quantities.some((q) => have.has(q));
}

/** The one-line hint shown when no selected run has data for `panel`. */
export function panelHint(panel) {
  if (panel.hint) return panel.hint;
  const names = panel.quantities.join(" or ");
  return `No selected run recorded ${names}; add it to InspectCallback(quantities=...) to see this panel.`;
}
