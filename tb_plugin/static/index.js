// Entry point of the "Inspect" tab. TensorBoard imports this ES module (served at
// plugin/keras_inspect/index.js, the <base href> of the plugin's iframe) and calls render() once.
//
// It is kept small on purpose. A module's imports are discovered only when the module has been
// fetched and parsed, so the dashboard's modules, three imports deep, would arrive in three
// round trips, and its first /runs request would leave after the last of them. Here every
// module is announced at once (<link rel="modulepreload">), and plotly.js (1.5 MB, the largest
// download by far) with them, and /runs is requested while they download; then the dashboard
// starts with that request under way.

// Every module under ./static/ the first render needs, in no particular order (a test checks
// that these and LAZY are all of them).
export const MODULES = [
  "address.js",
  "assets.js",
  "bridge.js",
  "charts.js",
  "colors.js",
  "dashboard.js",
  "dom.js",
  "empty.js",
  "findings.js",
  "model.js",
  "not_recorded.js",
  "panel_kit.js",
  "panel_tools.js",
  "panels/channel_capacity.js",
  "panels/cka_runs.js",
  "panels/cka_steps.js",
  "panels/clusters.js",
  "panels/correlation.js",
  "panels/dead_units.js",
  "panels/entropy_inter.js",
  "panels/entropy_intra.js",
  "panels/importance.js",
  "panels/information.js",
  "panels/input_saliency.js",
  "panels/layer_std.js",
  "panels/loss.js",
  "panels/model_auc.js",
  "panels/neurons.js",
  "panels/overview.js",
  "panels/probes.js",
  "panels/projection.js",
  "panels/saliency.js",
  "panels/samples.js",
  "panels/score_hist.js",
  "panels/weights_hinton.js",
  "registry.js",
  "selectors.js",
  "state.js",
  "url_state.js",
];

// Modules imported on a user's first click (panel_tools.js), not preloaded: every module
// fetched before the first render delays it.
export const LAZY = ["definitions.js", "export.js"];

export async function render() {
  // First, so that it is not queued behind the module downloads (six connections at a time).
  const runs = fetch("./runs", { credentials: "same-origin" });
  runs.catch(() => {}); // the dashboard reports a failure
  for (const name of MODULES) {
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.href = `./static/${name}`;
    document.head.append(link);
  }
  // Downloaded now, run later by assets.loadPlotly() (same URL and marker as its preload).
  const plotly = document.createElement("link");
  plotly.rel = "preload";
  plotly.as = "script";
  plotly.href = "./vendor/plotly.min.js";
  plotly.setAttribute("data-ki-plotly", "");
  document.head.append(plotly);
  let dashboard;
  try {
    dashboard = await import("./static/dashboard.js");
  } catch (error) {
    const line = document.createElement("p");
    line.textContent = `The Inspect tab could not load its scripts: ${error && error.message ? error.message : error}`;
    document.body.append(line);
    throw error;
  }
  await dashboard.start(runs);
}
