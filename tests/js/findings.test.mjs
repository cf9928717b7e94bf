// Unit tests of the findings list and the CKA panels' pure helpers: `node --test tests/js/`.

import assert from "node:assert/strict";
import test from "node:test";

import { countText, foldCounts, foldedLines, FOLDED_LINES, kindText, targetPanels, whereText } from "../../tb_plugin/static/findings.js";
import { ckaFigure } from "../../tb_plugin/static/panels/cka_runs.js";
import { depthColor } from "../../tb_plugin/static/panels/cka_steps.js";
import { PANELS } from "../../tb_plugin/static/registry.js";
import { Selection } from "../../tb_plugin/static/state.js";

const KINDS = [
  "overfitting",
  "memorisation",
  "dead_units",
  "drift",
  "redundant_layer",
  "non_finite",
  "representation_frozen",
  "representation_unstable",
];

test("findings: every kind points to registered panels, regression over-fitting to the loss", () => {
  const ids = new Set(PANELS.map((p) => p.id));
  for (const kind of KINDS) {
    const targets = targetPanels(kind, { quantities: ["model_auc"] });
    assert.ok(targets.length > 0, kind);
    for (const id of targets) assert.ok(ids.has(id), `${kind} -> ${id} is not a panel`);
  }
  assert.deepEqual(targetPanels("overfitting", { quantities: ["model_auc"] })[0], "model_auc");
  assert.deepEqual(targetPanels("overfitting", { quantities: ["probe_r2"] }), ["loss"]);
  assert.equal(targetPanels("dead_units")[0], "dead_units");
  assert.equal(targetPanels("drift")[0], "layer_std");
  assert.equal(targetPanels("representation_frozen")[0], "cka_steps");
  assert.deepEqual(targetPanels("something_new"), []);
  assert.equal(kindText("dead_units"), "dead units");
  assert.equal(kindText("something_new"), "something new");
});

test("findings: counts by severity, in words", () => {
  const f = (severity) => ({ severity });
  assert.equal(countText([f("alert"), f("info"), f("alert"), f("warning")]), "2 alerts · 1 warning · 1 info");
  assert.equal(countText([f("info"), f("info")]), "2 info");
  assert.equal(countText([]), "");
});

test("findings: folded lines are shared between runs, every run with findings keeps one", () => {
  assert.equal(FOLDED_LINES, 6);
  assert.deepEqual(foldCounts([10], false), [6]);
  assert.deepEqual(foldCounts([3], false), [3]);
  assert.deepEqual(foldCounts([10, 10, 10], false), [2, 2, 2]);
  assert.deepEqual(foldCounts([1, 10, 0], false), [1, 5, 0]);
  assert.deepEqual(foldCounts([1, 1, 1, 1, 1, 1, 1, 1], false), [1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(foldCounts([10, 10], true), [10, 10]);
  assert.deepEqual(foldCounts([10, 10], false, 4), [2, 2]);
  assert.equal(foldedLines(1000), 6);
  assert.equal(foldedLines(736), 4); // 1280 x 800 less TensorBoard's bar
  assert.equal(foldedLines(0), 6);
});

test("findings: where a finding holds", () => {
  assert.equal(whereText({ step: 4, layer: "dense_2", dataset: "test", group: "" }), "step 4 · dense_2 · test");
  assert.equal(whereText({ step: 0, layer: "", dataset: "", group: "user_id" }), "step 0 · user_id");
});

function catalog() {
  const run = (name) => ({ run: name, steps: [0, 1, 2, 3], datasets: ["train", "a", "b", "c", "d"], layers: ["l1", "l2"], quantities: [] });
  return [run("r1"), run("r2")];
}

test("selection: goTo moves step, layer and focus dataset in one change and ticks the dataset", () => {
  const sel = new Selection();
  sel.setCatalog(catalog());
  assert.ok(!sel.datasets.includes("d"));
  const seen = [];
  sel.subscribe((_, changed) => seen.push([...changed].sort()));
  const changed = sel.goTo({ step: 1, layer: "l2", dataset: "d" });
  assert.deepEqual([...changed].sort(), ["dataset", "datasets", "layer", "step"]);
  assert.equal(seen.length, 1);
  assert.deepEqual([sel.step, sel.layer, sel.dataset], [1, "l2", "d"]);
  assert.ok(sel.datasets.includes("d"));
  assert.equal(sel.followLatest, false);
  assert.deepEqual(sel.view, { runs: [], datasets: sel.view.datasets, focus: "d", layer: "l2", step: 1 });
  // Unknown names and empty fields leave the selection as it is.
  assert.equal(sel.goTo({ step: null, layer: "nope", dataset: "" }).size, 0);
  assert.equal(seen.length, 1);
  sel.goTo({ step: 99 });
  assert.deepEqual([sel.step, sel.followLatest], [3, true]);
});

test("cka: the heatmap keeps the layer order, a fixed 0..1 scale and escapes names", () => {
  const answer = {
    runs: ["a", "<b>"],
    steps: [3, 2],
    layers: [["l1", "l2"], ["x&y"]],
    matrix: [[0.9], [0.2]],
    rows: 32,
    refused: null,
  };
  const { trace, layout } = ckaFigure(answer);
  assert.deepEqual(trace.y, ["l1", "l2"]);
  assert.deepEqual(trace.x, ["x&amp;y"]);
  assert.deepEqual([trace.zmin, trace.zmax], [0, 1]);
  assert.equal(trace.z, answer.matrix);
  assert.equal(layout.yaxis.autorange, "reversed");
  assert.match(layout.xaxis.title.text, /^&lt;b&gt; · step 2$/);
  assert.equal(trace.texttemplate, "%{z:.2f}"); // small matrices show their values
});

test("cka: layer depth colours run from the first layer to the last", () => {
  assert.equal(depthColor(0, 5), "rgb(13, 8, 135)");
  assert.equal(depthColor(4, 5), "rgb(248, 149, 64)");
  assert.notEqual(depthColor(1, 5), depthColor(2, 5));
  assert.equal(depthColor(0, 1), "#0d0887");
});
