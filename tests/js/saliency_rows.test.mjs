// The saliency panel's rows for many feature groups (a table's columns): which groups are drawn
// one by one, the summary row of the rest, and labels that stay distinct when cut.
// `node --test tests/js/`.

import assert from "node:assert/strict";
import test from "node:test";

import { LABEL_CHARS, TOP_GROUPS, groupRows, rowValues, shortLabel, summary } from "../../tb_plugin/static/panels/saliency.js";

const columns = (n) => Array.from({ length: n }, (_, i) => `input[${i}]`);

test("saliency rows: up to TOP_GROUPS groups are drawn whole, without a summary row", () => {
  const rows = groupRows(columns(30));
  assert.equal(rows.shown.length, 30);
  assert.deepEqual(rows.rest, []);
  assert.deepEqual(rows.labels, columns(30));
  assert.equal(groupRows(columns(TOP_GROUPS)).rest.length, 0);
});

test("saliency rows: past TOP_GROUPS, the rest is one last row that says how many it holds", () => {
  const rows = groupRows(columns(64));
  assert.deepEqual(rows.shown, columns(64).slice(0, TOP_GROUPS));
  assert.deepEqual(rows.rest, columns(64).slice(TOP_GROUPS));
  assert.equal(rows.labels.length, TOP_GROUPS + 1);
  assert.equal(rows.labels.at(-1), `+${64 - TOP_GROUPS} more: mean`);
  // "all" draws every group
  assert.equal(groupRows(columns(64), Infinity).labels.length, 64);
});

test("saliency rows: a summary row holds the mean of the rest's finite values", () => {
  const rows = groupRows(["a", "b", "c", "d"], 2);
  const values = { a: 4, b: 3, c: 1, d: null };
  assert.deepEqual(rowValues(rows, (g) => values[g]), [4, 3, 1]);
  const both = { a: 4, b: 3, c: 1, d: 2 };
  assert.deepEqual(rowValues(rows, (g) => both[g]), [4, 3, 1.5]);
  assert.deepEqual(rowValues(rows, () => null), [null, null, null]);
  assert.deepEqual(summary([2, null, 4, NaN]), { mean: 3, min: 2, max: 4, count: 2 });
  assert.equal(summary([null]), null);
});

test("saliency rows: long names are cut in the middle and stay distinct", () => {
  assert.equal(shortLabel("mean radius"), "mean radius");
  const long = "average number of purchases in the last thirty days";
  const cut = shortLabel(long);
  assert.equal(cut.length, LABEL_CHARS);
  assert.ok(cut.startsWith("average number") && cut.endsWith("days") && cut.includes("\u2026"), cut);
  // two names that differ only in the middle would share a label: the later one is numbered
  const a = "customer lifetime value (EUR) estimated by model v1 at signup";
  const b = "customer lifetime value (EUR) estimated by model v2 at signup";
  const { labels } = groupRows([a, b]);
  assert.equal(new Set(labels).size, 2, labels);
  assert.ok(labels[1].endsWith("#2"), labels[1]);
});
