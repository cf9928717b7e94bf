// The view in the page address (url_state.js) and the Selection's side of it (state.js).

import assert from "node:assert/strict";
import test from "node:test";

import { searchWithView, typedValues, viewFromSearch } from "../../tb_plugin/static/url_state.js";
import { Selection } from "../../tb_plugin/static/state.js";

const TYPED = "http://127.0.0.1:6006/?inspect_run=alpha&inspect_run=gamma#keras_inspect";

test("a repeated parameter typed by hand is read in full from the address as loaded", () => {
  // TensorBoard kept only the last value in the current address.
  assert.deepEqual(typedValues(["gamma"], TYPED, "inspect_run"), ["alpha", "gamma"]);
  // The current address names another run: the typed one is stale.
  assert.deepEqual(typedValues(["beta"], TYPED, "inspect_run"), ["beta"]);
  assert.deepEqual(typedValues([], TYPED, "inspect_run"), []);
  assert.deepEqual(typedValues(["b"], "", "inspect_run"), ["b"]);
  assert.deepEqual(typedValues(["b"], "not a url", "inspect_run"), ["b"]);
  assert.deepEqual(viewFromSearch("?inspect_run=gamma", TYPED).runs, ["alpha", "gamma"]);
});

test("the whole view goes into the address and comes back, other parameters untouched", () => {
  const view = {
    runs: ["ctr", "compare/ctr 3 layers", "a&b=c#d"],
    datasets: ["train", "test5"],
    focus: "test5",
    layer: "dense_1",
    step: 40,
    options: new Map([["saliency.groups", "all"], ["loss.scale", "log"]]),
  };
  const search = searchWithView("?darkMode=true&inspect_run=old&inspect_run_7=older&inspect_x.y=z", view);
  // Lists use numbered keys: TensorBoard keeps only the last value of a repeated key.
  const params = new URLSearchParams(search);
  assert.equal(params.get("darkMode"), "true");
  assert.deepEqual(params.getAll("inspect_run"), ["ctr"]);
  assert.equal(params.get("inspect_run_2"), "compare/ctr 3 layers");
  assert.equal(params.get("inspect_run_7"), null);
  assert.equal(params.get("inspect_x.y"), null);
  const back = viewFromSearch(search);
  assert.deepEqual(back.runs, view.runs);
  assert.deepEqual(back.datasets, view.datasets);
  assert.equal(back.focus, "test5");
  assert.equal(back.layer, "dense_1");
  assert.equal(back.step, 40);
  assert.deepEqual([...back.options], [...view.options]);
  // Nothing to say: no inspect_ parameter at all.
  assert.equal(searchWithView(search, { runs: [], datasets: [], options: new Map() }), "?darkMode=true");
  assert.equal(searchWithView("", {}), "");
  // A step that is not a number is ignored.
  assert.equal(viewFromSearch("?inspect_step=abc").step, null);
  // Numbered keys are read in number order, after the plain one.
  assert.deepEqual(viewFromSearch("?inspect_run_10=j&inspect_run_2=b&inspect_run=a").runs, ["a", "b", "j"]);
});

function catalog() {
  const info = (run, datasets, layers, steps) => ({ run, steps, datasets, layers, quantities: [], classes: [], logs: [] });
  return [
    info("ctr", ["train", "test1", "test2", "test3", "test4", "test5"], ["dense", "dense_1", "dense_2"], [0, 10, 20, 30]),
    info("digits", ["train", "test"], ["conv", "dense"], [0, 10, 20]),
  ];
}

test("the selection says only what differs from the defaults, and a view restores it", () => {
  const sel = new Selection();
  sel.setCatalog(catalog());
  assert.deepEqual(sel.view, { runs: [], datasets: [], focus: null, layer: null, step: null });
  sel.setRunSelected("digits", false);
  sel.setDatasetShown("test5", true);
  sel.setDatasetShown("test1", false);
  sel.setDataset("test3");
  sel.setLayer("dense_2");
  sel.setStep(10);
  const view = sel.view;
  assert.deepEqual(view.runs, ["ctr"]);
  // The defaults were train, test and test1 (digits' "test" sits after train in the union).
  assert.deepEqual(new Set(view.datasets), new Set(["train", "test3", "test5"]));
  assert.equal(view.focus, "test3");
  assert.equal(view.layer, "dense_2");
  assert.equal(view.step, 10);

  // A new page from that address shows the same view.
  const address = viewFromSearch(searchWithView("", { ...view, options: new Map() }));
  const again = new Selection({ runs: address.runs, view: address });
  again.setCatalog(catalog());
  assert.deepEqual(again.runs, ["ctr"]);
  assert.deepEqual(new Set(again.datasets), new Set(view.datasets));
  assert.equal(again.dataset, "test3");
  assert.equal(again.layer, "dense_2");
  assert.equal(again.step, 10);
  assert.equal(again.followLatest, false);
  assert.deepEqual(again.view, view);

  // Names that no longer exist are ignored; the defaults hold.
  const stale = new Selection({ view: { datasets: ["gone"], focus: "gone", layer: "gone", step: null } });
  stale.setCatalog(catalog());
  assert.deepEqual(stale.view, { runs: [], datasets: [], focus: null, layer: null, step: null });
});
