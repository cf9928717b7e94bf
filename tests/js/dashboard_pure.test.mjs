// Unit tests of the dashboard's pure helpers (no browser): `node --test tests/js/`.
// The browser behaviour is covered by the Playwright tests; these pin the small rules that are
// easy to break: selection defaults and repair, stable run colours, escaping for Plotly, the
// Keras-log split of the loss panel and the histogram step lines.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "node:test";

import { hashName, PALETTE, runColor, assignRunColors, datasetStyle, needsSymbols, traceStyle } from "../../tb_plugin/static/colors.js";
import { plotlyText } from "../../tb_plugin/static/dom.js";
import { Selection, stepAtOrBefore, DEFAULT_DATASETS, unionInOrder } from "../../tb_plugin/static/state.js";
import { lossPanels, metricsOf } from "../../tb_plugin/static/panels/loss.js";
import { histogramLine, classOrder, classTitle } from "../../tb_plugin/static/panels/score_hist.js";
import { subplotGrid } from "../../tb_plugin/static/charts.js";
import { MAX_BAR_UNITS, nestedBar, unitTrace } from "../../tb_plugin/static/panels/neurons.js";
import { smoothed, valueAt, withStepChoices } from "../../tb_plugin/static/panel_kit.js";
import { nearestStep } from "../../tb_plugin/static/selectors.js";
import { LAZY, MODULES } from "../../tb_plugin/static/index.js";
import { rankedUnits } from "../../tb_plugin/static/panels/importance.js";
import { byClass } from "../../tb_plugin/static/panels/information.js";
import { clusterOrder, idsOfMatrix } from "../../tb_plugin/static/panels/clusters.js";
import { matrixUnits, subsetText, unitPairs } from "../../tb_plugin/static/panels/correlation.js";
import { channelMean, channels, sampleCell } from "../../tb_plugin/static/panels/input_saliency.js";
import { groupOrder, groupStepMatrix, rankGroups } from "../../tb_plugin/static/panels/saliency.js";
import { byClass as intraByClass, layerFor, vectorsAt } from "../../tb_plugin/static/panels/entropy_intra.js";
import { orderedMatrix, sortedOrder, splitPair } from "../../tb_plugin/static/panels/channel_capacity.js";
import { pointGroups, projectedLayer } from "../../tb_plugin/static/panels/projection.js";
import { hintonSquares } from "../../tb_plugin/static/panels/weights_hinton.js";
import { foldRows, overviewRows, shapeText } from "../../tb_plugin/static/panels/overview.js";
import { arrayTraces, bySample, isRegression, mosaic, regressionTraces } from "../../tb_plugin/static/panels/samples.js";

function run(name, extra = {}) {
  return {
    run: name,
    steps: [0, 1, 2],
    datasets: ["train", "test1", "test2", "test3", "test4"],
    layers: ["dense_1", "dense_2"],
    quantities: ["model_auc"],
    classes: ["0", "1"],
    logs: ["loss"],
    ...extra,
  };
}

test("selection defaults: all runs, train focus, first layer, latest step, first datasets shown", () => {
  const sel = new Selection();
  sel.setCatalog([run("b"), run("a", { steps: [0, 5] })]);
  assert.deepEqual(sel.runs, ["a", "b"]);
  assert.equal(sel.dataset, "train");
  assert.equal(sel.layer, "dense_1");
  assert.equal(sel.step, 5);
  assert.deepEqual(sel.steps, [0, 1, 2, 5]);
  assert.deepEqual(sel.datasets, ["train", "test1", "test2", "test3", "test4"].slice(0, DEFAULT_DATASETS));
});

test("a page opened on some runs shows the first datasets of those runs", () => {
  // Another model's datasets come first in the logdir's dataset order (right after train) ...
  const catalog = [run("ctr", { datasets: ["train", "test1", "test2", "test3"] }), run("other", { datasets: ["train", "test", "per_class_25"] })];
  const all = new Selection();
  all.setCatalog(catalog);
  assert.deepEqual(all.datasets, ["train", "test", "per_class_25"]);
  // ... but a page opened on the CTR run (?inspect_run=ctr) shows the CTR run's.
  const one = new Selection({ runs: ["ctr"] });
  one.setCatalog(catalog);
  assert.deepEqual(one.runs, ["ctr"]);
  assert.deepEqual(one.datasets, ["train", "test1", "test2"]);
});

test("train is first in the dataset order (solid line) and the focus is always shown", () => {
  const sel = new Selection();
  sel.setCatalog([run("a", { datasets: ["test1", "test2", "test3", "test4", "train"] })]);
  assert.deepEqual(sel.datasetOrder.slice(0, 2), ["train", "test1"]);
  assert.equal(sel.dataset, "train");
  sel.setDataset("test4");
  assert.ok(sel.datasets.includes("test4"));
});

test("line styles go to the datasets shown: no two shown share one while six or fewer are", () => {
  const sel = new Selection();
  const many = ["train", "test", ...Array.from({ length: 12 }, (_, k) => `day${k}`)];
  sel.setCatalog([run("a", { datasets: many })]);
  assert.deepEqual(sel.datasets, ["train", "test", "day0"]);
  assert.deepEqual(["train", "test", "day0"].map((d) => sel.styleIndex(d)), [0, 1, 2]);
  assert.equal(sel.styleIndex("day9"), null); // not shown: no style
  // day9 is 11th of 14 in the dataset order: by order it would share train's solid line.
  sel.setDatasetShown("day9", true);
  assert.equal(sel.styleIndex("day9"), 3);
  // Hiding one frees its slot for the next shown; the others keep theirs.
  sel.setDatasetShown("test", false);
  sel.setDatasetShown("day10", true);
  assert.deepEqual(["train", "day0", "day9", "day10"].map((d) => sel.styleIndex(d)), [0, 2, 3, 1]);
  const dashes = sel.datasets.map((d) => datasetStyle(sel.styleIndex(d)).dash);
  assert.equal(new Set(dashes).size, dashes.length);
  // train keeps the solid line even while hidden; without a train every slot is free.
  sel.setDataset("day0");
  sel.setDatasetShown("train", false);
  sel.setDatasetShown("day11", true);
  assert.notEqual(sel.styleIndex("day11"), 0);
  const other = new Selection();
  other.setCatalog([run("b", { datasets: ["fit", "holdout"] })]);
  assert.deepEqual(["fit", "holdout"].map((d) => other.styleIndex(d)), [0, 1]);
});

test("selection survives a reload and follows the newest checkpoint", () => {
  const sel = new Selection();
  sel.setCatalog([run("a"), run("b")]);
  sel.setRunSelected("b", false);
  sel.setLayer("dense_2");
  sel.setCatalog([run("a", { steps: [0, 1, 2, 3] }), run("b"), run("c")]);
  assert.deepEqual(sel.runs, ["a", "c"]); // new run shown, hidden run stays hidden
  assert.equal(sel.layer, "dense_2");
  assert.equal(sel.step, 3);
  sel.setStep(1);
  sel.setCatalog([run("a", { steps: [0, 1, 2, 3, 4] })]);
  assert.equal(sel.step, 1); // moved by the user: kept
});

test("setStep snaps to the latest checkpoint at or before the value and notifies once", () => {
  const sel = new Selection();
  sel.setCatalog([run("a", { steps: [0, 10, 20] })]);
  const seen = [];
  sel.subscribe((_, changed) => seen.push([...changed]));
  sel.setStep(15);
  sel.setStep(12);
  assert.equal(sel.step, 10);
  assert.deepEqual(seen, [["step"]]);
  assert.equal(stepAtOrBefore([0, 10, 20], -1), null);
  assert.equal(nearestStep([0, 10, 20], 16), 20);
});

test("run colours are stable, distinct while the palette lasts, and unaffected by new runs", () => {
  assignRunColors(["ctr_seed0", "ctr_seed1", "<img src=x onerror=alert(1)>"]);
  const before = ["ctr_seed0", "ctr_seed1", "<img src=x onerror=alert(1)>"].map(runColor);
  assert.equal(new Set(before).size, 3);
  assignRunColors(["aaa", "ctr_seed0", "zzz"]);
  assert.deepEqual(["ctr_seed0", "ctr_seed1", "<img src=x onerror=alert(1)>"].map(runColor), before);
  assert.ok(PALETTE.includes(runColor("zzz")));
  assert.equal(hashName("abc"), hashName("abc"));
  assert.equal(datasetStyle(0).dash, "solid");
  assert.notEqual(datasetStyle(1).dash, "solid");
});

test("plotlyText escapes markup so Plotly shows it literally", () => {
  assert.equal(plotlyText("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
  assert.equal(plotlyText("a&b $x$"), "a&amp;b &#36;x&#36;");
});

test("loss panel prefers the callback's copies and pairs val_ metrics as validation", () => {
  const series = [
    { name: "loss", source: "inspect", steps: [0], values: [1] },
    { name: "val_loss", source: "inspect", steps: [0], values: [2] },
    { name: "loss", source: "train", steps: [0], values: [9] },
    { name: "auc", source: "train", steps: [0], values: [0.5] },
    { name: "auc", source: "validation", steps: [0], values: [0.4] },
  ];
  const metrics = metricsOf(series);
  assert.equal(metrics.get("loss").training.values[0], 1);
  assert.equal(metrics.get("loss").validation.values[0], 2);
  assert.equal(metrics.get("auc").training.source, "train");
  assert.equal(metrics.get("auc").validation.source, "validation");
});

test("histogram cells become step lines; positives first for binary labels only", () => {
  const line = histogramLine({ values: [[0, 0.5, 1.2], [0.5, 1, 0.8]] });
  assert.deepEqual(line, { x: [0, 0.5, 1], y: [1.2, 0.8, 0.8] });
  assert.deepEqual(classOrder(["0", "all", "1"]), ["1", "0", "all"]);
  // A 10-class run beside a binary one: natural order, no "positive first".
  assert.deepEqual(classOrder(["0", "10", "2", "1", "all"]), ["0", "1", "2", "10", "all"]);
});

test("small helpers", () => {
  assert.equal(valueAt([0, 2, 4], [10, 20, 30], 3), 20);
  assert.equal(valueAt([2, 4], [20, 30], 1), null);
  const back = nestedBar(0, 3);
  const front = nestedBar(2, 3);
  assert.ok(back.width > front.width && back.opacity < front.opacity);
});

test("neuron panel: bars for narrow layers, one step line per dataset for wide ones", () => {
  const cell = (units, dataset) => ({ dataset, layer: "dense_1", values: Array.from({ length: units }, (_, i) => i / units) });
  const narrow = unitTrace("a", cell(MAX_BAR_UNITS, "train"), "neuron_mean", { position: 1, count: 2, style: traceStyle("a", 1, false) });
  assert.equal(narrow.type, "bar");
  assert.equal(narrow.y.length, MAX_BAR_UNITS);
  assert.deepEqual(narrow.meta, { run: "a", dataset: "train", layer: "dense_1", quantity: "neuron_mean" });
  const first = unitTrace("a", cell(MAX_BAR_UNITS + 1, "train"), "neuron_mean", { position: 0, count: 2, style: traceStyle("a", 0, false) });
  const second = unitTrace("a", cell(MAX_BAR_UNITS + 1, "test1"), "neuron_mean", { position: 1, count: 2, style: traceStyle("a", 1, false) });
  assert.equal(first.type, "scatter");
  assert.equal(first.line.shape, "hvh");
  assert.equal(first.fill, "tozeroy");
  assert.match(first.fillcolor, /^rgba\(\d+, \d+, \d+, 0\.2\)$/);
  assert.equal(second.fill, "none");
  assert.equal(second.line.dash, datasetStyle(1).dash);
  assert.notEqual(first.line.dash, second.line.dash);
  assert.deepEqual(second.x, Array.from({ length: MAX_BAR_UNITS + 1 }, (_, i) => i));
});

test("the entry point preloads every module of the dashboard", () => {
  const root = fileURLToPath(new URL("../../tb_plugin/static/", import.meta.url));
  const onDisk = readdirSync(root, { recursive: true })
    .map((name) => name.split("\\").join("/"))
    .filter((name) => name.endsWith(".js") && name !== "index.js")
    .sort();
  assert.deepEqual([...MODULES, ...LAZY].sort(), onDisk);
  assert.ok(LAZY.every((name) => !MODULES.includes(name)));
});

test("filter importance: units sorted by importance, cut at a percentile", () => {
  const values = [0.2, 1, 0, 0.6, 0.4];
  assert.deepEqual(rankedUnits(values), [1, 3, 4, 0, 2]);
  assert.deepEqual(rankedUnits(values, 50), [1, 3, 4]); // the median is 0.4
  assert.deepEqual(rankedUnits(values, 95), [1]);
  assert.deepEqual(rankedUnits([NaN, 0.5]), [1]);
  assert.deepEqual(rankedUnits([]), []);
});

test("saliency: groups in first-seen order and a group x step matrix with gaps", () => {
  const series = [
    { dataset: "train", extra: { group: "user" }, steps: [0, 1, 2], values: [0.1, 0.5, 0.9] },
    { dataset: "train", extra: { group: "price" }, steps: [1, 2], values: [0.2, 0.3] },
    { dataset: "test", extra: { group: "ad" }, steps: [0], values: [7] },
  ];
  const groups = groupOrder([{ value: { series } }]);
  assert.deepEqual(groups, ["user", "price", "ad"]);
  const { steps, z } = groupStepMatrix(series, groups, "train");
  assert.deepEqual(steps, [0, 1, 2]);
  assert.deepEqual(z, [[0.1, 0.5, 0.9], [null, 0.2, 0.3], [null, null, null]]);
  // Most salient at the newest checkpoint first; groups without a value last, in order.
  assert.deepEqual(rankGroups(groups, [{ value: { series } }], "train"), ["user", "price", "ad"]);
  const flipped = series.map((s) => (s.extra.group === "price" ? { ...s, values: [5, 6] } : s));
  assert.deepEqual(rankGroups(groups, [{ value: { series: flipped } }], "train"), ["price", "user", "ad"]);
});

test("clusters: units ordered by cluster, never-active last, with their blocks", () => {
  const { order, blocks } = clusterOrder([1, -1, 0, 1, 0]);
  assert.deepEqual(order, [2, 4, 0, 3, 1]);
  assert.deepEqual(blocks, [
    { id: 0, start: 0, end: 2 },
    { id: 1, start: 2, end: 4 },
    { id: -1, start: 4, end: 5 },
  ]);
});

test("input saliency: cells by sample, channels of a sequence, channel mean of an image", () => {
  const cells = [
    { layer: "", extra: { sample: "0" } },
    { layer: "conv", extra: { sample: "1" } },
    { layer: "input", extra: { sample: "1", group: "b" } },
  ];
  assert.equal(sampleCell(cells, "conv", "1"), cells[1]);
  assert.equal(sampleCell(cells, "input", "1", "b"), cells[2]);
  assert.equal(sampleCell(cells, "input", "1", "a"), undefined);
  assert.deepEqual(channels([[1, 2], [3, 4], [5, 6]]), [[1, 3, 5], [2, 4, 6]]);
  assert.deepEqual(channelMean([[[1, 3], [2, 2]], [[0, 0], [4, 8]]]), [[2, 2], [0, 6]]);
});

test("prediction entropies: one series per class of the focus dataset, classes in order", () => {
  const series = [
    { dataset: "train", extra: { class: "10" }, steps: [0], values: [1] },
    { dataset: "train", extra: { class: "2" }, steps: [0, 1], values: [0.5, 0.25] },
    { dataset: "test", extra: { class: "0" }, steps: [0], values: [9] },
  ];
  const classes = byClass(series, "train");
  assert.deepEqual([...classes.keys()], ["2", "10"]);
  assert.deepEqual(classes.get("2"), { steps: [0, 1], values: [0.5, 0.25] });
});

test("intra-sample entropy: classes in numeric order with all last; vectors at a step; layer fallback", () => {
  const cell = (cls, steps, values) => ({ extra: { class: cls }, steps, values });
  const classes = intraByClass([cell("all", [0, 2], [[1], [2]]), cell("10", [0], [[3]]), cell("2", [0, 2], [[4], [5]])]);
  assert.deepEqual([...classes.keys()], ["2", "10", "all"]);
  assert.deepEqual(vectorsAt(classes, 1), { rows: [["2", [4]], ["10", [3]], ["all", [1]]], step: 0 });
  assert.deepEqual(vectorsAt(classes, 2).rows.map(([c, v]) => [c, v[0]]), [["2", 5], ["10", 3], ["all", 2]]);
  assert.deepEqual(vectorsAt(classes, 2).step, 2);
  const info = { quantities: ["entropy_intra"], layers: ["conv", "dense"], quantityLayers: { entropy_intra: ["conv"] } };
  assert.equal(layerFor(info, "conv"), "conv");
  assert.equal(layerFor(info, "dense"), "conv"); // a dense layer has no maps: the first that has
  assert.equal(layerFor({ ...info, quantityLayers: { entropy_intra: [] } }, "dense"), null);
});

test("channel capacity: rows and columns sorted by maximum or mean, as in CNNSlicer 5.3.2", () => {
  // matrix[i][j]: channel i of the earlier layer (a column of the heatmap), j of the later (a row).
  const matrix = [
    [0.1, 0.9, 0.2],
    [0.5, 0.4, 0.3],
  ];
  assert.deepEqual(orderedMatrix(matrix, "index", "both"), { x: [0, 1], y: [0, 1, 2], z: [[0.1, 0.5], [0.9, 0.4], [0.2, 0.3]] });
  // Column maxima 0.9, 0.5 -> [0, 1]; row maxima 0.5, 0.9, 0.3 -> [1, 0, 2].
  const byMax = orderedMatrix(matrix, "max", "both");
  assert.deepEqual([byMax.x, byMax.y], [[0, 1], [1, 0, 2]]);
  assert.deepEqual(byMax.z[0], [0.9, 0.4]);
  // Column means 0.4, 0.4 (tie: index order); row means 0.3, 0.65, 0.25 -> [1, 0, 2].
  const byMean = orderedMatrix(matrix, "mean", "both");
  assert.deepEqual([byMean.x, byMean.y], [[0, 1], [1, 0, 2]]);
  assert.deepEqual(orderedMatrix(matrix, "max", "columns").y, [0, 1, 2]);
  assert.deepEqual(orderedMatrix(matrix, "max", "rows").x, [0, 1]);
  assert.deepEqual(sortedOrder(3, (i) => [[null], [2], [1]][i], "max"), [1, 2, 0]); // missing last
  assert.deepEqual(splitPair("conv-1->conv->2"), ["conv-1->conv", "2"]);
});

test("projection: points grouped by class label, a colour scale for targets, plain without labels", () => {
  const classes = pointGroups([[0, 1, 1], [2, 3, 0], [4, 5, 1], [6, 7, null]]);
  assert.equal(classes.kind, "classes");
  assert.deepEqual(classes.groups, [{ label: 0, x: [2], y: [3] }, { label: 1, x: [0, 4], y: [1, 5] }]);
  const target = pointGroups([[0, 1, 0.5], [2, 3, 1.25]]);
  assert.deepEqual(target, { kind: "values", x: [0, 2], y: [1, 3], c: [0.5, 1.25] });
  assert.deepEqual(pointGroups([[0, 1], [2, 3]]), { kind: "none", x: [0, 2], y: [1, 3] });
  const info = { quantities: ["projection"], layers: ["a", "b"], quantityLayers: { projection: ["b"] } };
  assert.equal(projectedLayer(info, "a"), "b");
  assert.equal(projectedLayer(info, "b"), "b");
});

test("subplot grids keep room for many rows; class titles name positives only for binary labels", () => {
  const grid = subplotGrid(Array.from({ length: 11 }, (_, i) => String(i)), { cols: 2, yGap: 0.25 });
  assert.equal(grid.rows, 6);
  const domains = grid.suffixes.map((s) => grid.layout[`yaxis${s}`].domain);
  for (const [low, high] of domains) assert.ok(low >= -1e-9 && high > low, JSON.stringify(domains));
  // Rows do not overlap: each row's bottom is above the next row's top.
  for (let r = 0; r + 1 < grid.rows; r += 1) assert.ok(domains[2 * r][0] > domains[2 * (r + 1)][1]);
  assert.equal(classTitle("1", ["0", "1"]), "class 1 (positive / clicked)");
  assert.equal(classTitle("1", ["0", "1", "2"]), "class 1");
  assert.equal(classTitle("all", ["all", "3"]), "all samples (no labels)");
});

test("Hinton squares: one per non-zero weight, area proportional to magnitude, split by sign", () => {
  const squares = hintonSquares([[1, -0.25], [0, null]], 20);
  assert.deepEqual(squares.positive, { x: [0], y: [0], w: [1], size: [20] });
  assert.deepEqual(squares.negative, { x: [1], y: [0], w: [-0.25], size: [10] }); // sqrt(1/4) * 20
});

test("model overview: layers in call order with their type, shape and what was recorded", () => {
  const cells = [
    { layer: "dense", extra: { type: "Dense" }, values: [2, 8256, 64] },
    { layer: "conv", extra: { type: "Conv2D" }, values: [0, 160, 8, 8, 16] },
    { layer: "pool", extra: { type: "MaxPooling2D" }, values: [1, 0, -1, 4, 16] },
  ];
  const rows = overviewRows(cells, { neuron_mean: ["conv", "dense"], entropy_intra: ["conv"], model_layers: ["conv"] });
  assert.deepEqual(rows.map((r) => r.layer), ["conv", "pool", "dense"]);
  assert.deepEqual(rows[0], { layer: "conv", type: "Conv2D", position: 0, params: 160, shape: [8, 8, 16], quantities: ["entropy_intra", "neuron_mean"] });
  assert.deepEqual(rows[1].quantities, []); // not inspected
  assert.equal(shapeText(rows[1].shape), "(?, 4, 16)");
  assert.equal(shapeText([]), "?");
});

test("samples: cells by sample, channels side by side with gaps, one trace per array kind", () => {
  const cells = [{ extra: { sample: "2" }, values: 2 }, { extra: { sample: "0" }, values: 0 }, { extra: {}, values: 9 }];
  assert.deepEqual([...bySample(cells).keys()], [0, 2]);
  // A 2 x 1 map of 3 channels: a 2 x 2 grid of channels (two columns), each scaled to 0..1.
  const values = [[[0, 5, 1]], [[2, 5, 3]]];
  assert.deepEqual(mosaic(values), [
    [0, null, 0],
    [1, null, 0],
    [null, null, null],
    [0, null, null],
    [1, null, null],
  ]);
  assert.equal(arrayTraces(values, [2, 1, 3], "", "layer")[0].type, "heatmap");
  const grey = arrayTraces([[[0.5], [1]]], [1, 2, 1], "2", "input")[0];
  assert.deepEqual([grey.z, grey.xaxis], [[[0.5, 1]], "x2"]);
  const sequence = arrayTraces([[1, 2], [3, 4], [5, 6]], [3, 2], "", "conv")[0];
  assert.deepEqual(sequence.z, [[1, 3, 5], [2, 4, 6]]); // one row per channel, over time
  assert.deepEqual(sequence.y, ["ch 0", "ch 1"]); // named rows, not a numeric axis
  assert.equal(arrayTraces([1, 2], [2], "", "dense")[0].type, "bar");
});

test("selection: runs named at start are the only ones shown, once", () => {
  const sel = new Selection({ runs: ["b"] });
  sel.setCatalog([run("a"), run("b"), run("c")]);
  assert.deepEqual(sel.selectedRuns.map((r) => r.run), ["b"]);
  sel.setRunSelected("a", true);
  sel.setCatalog([run("a"), run("b"), run("c")]); // a reload keeps the user's choice
  assert.deepEqual(sel.selectedRuns.map((r) => r.run), ["a", "b"]);
  const unknown = new Selection({ runs: ["zzz"] });
  unknown.setCatalog([run("a"), run("b")]);
  assert.deepEqual(unknown.selectedRuns.map((r) => r.run), ["a", "b"]); // no match: all
});

test("model overview: runs of layers that were not inspected fold into one row", () => {
  const row = (layer, type, position, quantities = [], shape = [8]) => ({ layer, type, position, params: 10, shape, quantities });
  const folded = foldRows([
    row("a_emb", "Embedding", 0),
    row("b_emb", "Embedding", 1),
    row("c_emb", "Embedding", 2, [], [6, 8]),
    row("concat", "Concatenate", 3),
    row("dense_1", "Dense", 4, ["neuron_mean"]),
    row("dense_2", "Dense", 5, ["neuron_mean"]),
  ]);
  assert.deepEqual(folded.map((r) => [r.layer, r.count, r.params]), [["a_emb", 3, 30], ["concat", 1, 10], ["dense_1", 1, 10], ["dense_2", 1, 10]]);
  assert.equal(folded[0].last.layer, "c_emb");
  assert.equal(shapeText(folded[0].shape), "various");
});

test("layers of several runs merge in model order: an extra layer sits after its predecessor", () => {
  const three = ["dense_1", "dense_2", "dense_3", "ctr"];
  const four = ["dense_1", "dense_2", "dense_3", "dense_4", "ctr"];
  assert.deepEqual(unionInOrder([three, four]), four);
  assert.deepEqual(unionInOrder([four, three]), four);
  assert.deepEqual(unionInOrder([["a", "b"], ["x", "b", "y"]]), ["a", "x", "b", "y"]);
  // Another model's layers follow the first model's: the default layer stays the first run's.
  assert.deepEqual(unionInOrder([["dense_1", "ctr"], ["conv_1", "conv_2"]]), ["dense_1", "ctr", "conv_1", "conv_2"]);
  assert.deepEqual(unionInOrder([["a", "a", "b"]]), ["a", "b"]);
});

test("a regressor's output cell: prediction beside the true target, per output", () => {
  const cell = { shape: [2, 3], values: [[0.5, 1.5, -2], [0.4, 2, -1]] };
  assert.ok(isRegression(cell));
  assert.ok(!isRegression({ shape: [10], values: new Array(10).fill(0.1) })); // probabilities
  assert.ok(!isRegression({ shape: [2], values: [0.3, 0.7] })); // a sigmoid as P(0), P(1)
  const [predicted, truth] = regressionTraces(cell, "2");
  assert.deepEqual([predicted.x, predicted.y, truth.y], [[0, 1, 2], [0.5, 1.5, -2], [0.4, 2, -1]]);
  assert.deepEqual([predicted.meta.kind, truth.meta.kind], ["prediction", "target"]);
  assert.equal(truth.xaxis, "x2");
});

test("a wide layer's correlation matrix is labelled with its recorded unit subset", () => {
  const whole = matrixUnits(null, 3);
  assert.deepEqual(whole, { units: [0, 1, 2], subset: false, width: 3 });
  assert.equal(subsetText(whole), "");
  const units = { values: [4, 9, 17] };
  const shape = { values: [2, 1200, 300] }; // model_layers: position, parameters, output shape
  const subset = matrixUnits(units, 3, shape);
  assert.deepEqual(subset, { units: [4, 9, 17], subset: true, width: 300 });
  assert.equal(subsetText(subset), "3 of 300 units (a fixed random subset)");
  assert.equal(subsetText(matrixUnits(units, 3)), "3 units (a fixed random subset)");
  // a subset of another size (an older matrix) is not applied to this one
  assert.equal(matrixUnits(units, 5).subset, false);
  assert.deepEqual(unitPairs([4, 9]), [[[4, 4], [4, 9]], [[9, 4], [9, 9]]]);
  // the clusters of the units a subset matrix covers, in the matrix's order
  assert.deepEqual(idsOfMatrix([0, 1, 1, 0, 2, 2, 2, 1, 0, 0], [1, 4, 8]), [1, 2, 0]);
});

test("trace styles stay pairwise distinct for many datasets, by run colour or by dataset colour", () => {
  const key = (s) => `${s.color}|${s.dash}|${s.symbol}`;
  // Several runs: colour = run, so (dash, symbol) alone must tell 24 datasets apart.
  const multi = Array.from({ length: 24 }, (_, slot) => traceStyle("ctr", slot, false));
  assert.equal(new Set(multi.map(key)).size, 24);
  assert.equal(new Set(multi.map((s) => s.color)).size, 1);
  // One run: colour = dataset; the first ten have ten colours, and (colour, dash) never repeats
  // below 30.
  const single = Array.from({ length: 30 }, (_, slot) => traceStyle("ctr", slot, true));
  assert.equal(new Set(single.slice(0, 10).map((s) => s.color)).size, 10);
  assert.equal(new Set(single.map((s) => `${s.color}|${s.dash}`)).size, 30);
  // Symbols are needed (markers on long lines) only past the six dashes in run colours.
  assert.equal(needsSymbols(6, false), false);
  assert.equal(needsSymbols(7, false), true);
  assert.equal(needsSymbols(9, true), false);
  // train (slot 0) is solid with circles either way.
  assert.equal(traceStyle("x", 0, true).dash, "solid");
  assert.equal(traceStyle("x", 0, false).symbol, "circle");
});

test("one selected run colours by dataset, two by run", () => {
  const sel = new Selection();
  const info = (run) => ({ run, steps: [0], datasets: ["train", "test1", "test2"], layers: ["d"], quantities: [], classes: [], logs: [] });
  sel.setCatalog([info("a"), info("b")]);
  assert.equal(sel.colorByDataset, false);
  assert.equal(sel.traceStyle("a", "test1").color, runColor("a"));
  assert.equal(sel.traceStyle("a", "train").color, sel.traceStyle("a", "test1").color);
  sel.setRunSelected("b", false);
  assert.equal(sel.colorByDataset, true);
  assert.notEqual(sel.traceStyle("a", "train").color, sel.traceStyle("a", "test1").color);
});

test("loss panel: validation beside training, a constant learning rate as a note", () => {
  const series = [
    { name: "loss", source: "inspect", steps: [0, 1], values: [1, 0.5] },
    { name: "val_loss", source: "inspect", steps: [0, 1], values: [1.2, 0.9] },
    { name: "auc", source: "inspect", steps: [0, 1], values: [0.6, 0.7] },
    { name: "learning_rate", source: "inspect", steps: [0, 1], values: [0.001, 0.001] },
  ];
  const { panels, constant } = lossPanels([{ run: "a", metrics: metricsOf(series) }]);
  assert.deepEqual(panels.map((p) => p.title), ["loss", "val_loss", "auc"]);
  assert.deepEqual(constant, [{ metric: "learning_rate", value: 0.001 }]);
  // One checkpoint is not "constant": it is drawn.
  const one = lossPanels([{ run: "a", metrics: metricsOf([{ name: "loss", source: "inspect", steps: [0], values: [1] }]) }]);
  assert.deepEqual(one.panels.map((p) => p.title), ["loss"]);
});

test("smoothing is TensorBoard's debiased moving average, checked against a loop", () => {
  const values = [1, 3, NaN, 2, 8, 4];
  const weight = 0.6;
  // Brute force: the debiased EMA at i is sum_j w^(i-j) (1-w) v_j / sum_j w^(i-j) (1-w) over finite j <= i.
  const expected = values.map((v, i) => {
    if (!Number.isFinite(v)) return v;
    let num = 0;
    let den = 0;
    let k = 0;
    for (let j = i; j >= 0; j -= 1) {
      if (!Number.isFinite(values[j])) continue;
      num += weight ** k * (1 - weight) * values[j];
      den += weight ** k * (1 - weight);
      k += 1;
    }
    return num / den;
  });
  const got = smoothed(values, weight);
  got.forEach((v, i) => (Number.isNaN(expected[i]) ? assert.ok(Number.isNaN(v)) : assert.ok(Math.abs(v - expected[i]) < 1e-12)));
  assert.equal(smoothed(values, 0), values);
  assert.equal(smoothed([5], 0.9)[0], 5); // debiased: the first point is itself
});

test("log scale drops a fixed linear range; smoothing keeps the raw line faint behind", () => {
  const layout = { yaxis: { range: [0.5, 1.02], title: "AUC" }, yaxis2: { rangemode: "tozero" } };
  const trace = { type: "scatter", x: [0, 1, 2], y: [1, 2, 3], line: { color: "#000", width: 2 }, meta: { run: "a" } };
  const out = withStepChoices([trace], layout, { log: true, smoothing: 0.6 });
  assert.equal(layout.yaxis.type, "log");
  assert.equal(layout.yaxis.range, undefined);
  assert.equal(layout.yaxis2.rangemode, undefined);
  assert.equal(out.length, 2);
  assert.equal(out[0].meta.decoration, true);
  assert.deepEqual(out[0].y, [1, 2, 3]);
  assert.deepEqual(out[1].y, smoothed([1, 2, 3], 0.6));
  assert.deepEqual(withStepChoices([trace], {}, { log: false, smoothing: 0 }), [trace]);
});
