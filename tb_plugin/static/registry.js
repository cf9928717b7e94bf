// The panel registry. A panel is one module under ./panels/ exporting a default object
//   {id, title, description?, quantities: [...], wide?, available?(runInfo), hint?, render(container, ctx)}
// and is listed here once; order here is order on the page. A panel is drawn when at least one
// selected run has one of its `quantities` (or passes `available`); otherwise it shows a hint.

import loss from "./panels/loss.js";
import modelAuc from "./panels/model_auc.js";
import scoreHist from "./panels/score_hist.js";
import neurons from "./panels/neurons.js";
import layerStd from "./panels/layer_std.js";
import correlation from "./panels/correlation.js";
import probes from "./panels/probes.js";

export const PANELS = [
  loss,
  modelAuc,
  scoreHist,
  neurons,
  layerStd,
  correlation,
  probes,
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
  const names = panel.quantities.join(", ");
  return `None of the selected runs recorded ${names}. Add ${panel.quantities.length > 1 ? "them" : "it"} to InspectCallback(quantities=...) to see this panel.`;
}
