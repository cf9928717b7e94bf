// The runs named by a repeated `inspect_run` in the page address (no browser): TensorBoard keeps
// only the last value in the address it rewrites; the address as typed names them all.

import assert from "node:assert/strict";
import test from "node:test";

import { typedRuns } from "../../tb_plugin/static/dashboard.js";

const TYPED = "http://127.0.0.1:6006/?inspect_run=alpha&inspect_run=gamma#keras_inspect";

test("every run of a repeated inspect_run, in the order typed", () => {
  assert.deepEqual(typedRuns(["gamma"], TYPED), ["alpha", "gamma"]);
});

test("the current address wins when it names a run the typed one does not", () => {
  // the user changed the address inside TensorBoard after the page loaded
  assert.deepEqual(typedRuns(["beta"], TYPED), ["beta"]);
});

test("no inspect_run now means none, whatever was typed", () => {
  assert.deepEqual(typedRuns([], TYPED), []);
});

test("repeats are dropped and a missing or malformed address is ignored", () => {
  const twice = "http://h/?inspect_run=a&inspect_run=a&inspect_run=b";
  assert.deepEqual(typedRuns(["b"], twice), ["a", "b"]);
  assert.deepEqual(typedRuns(["b"], ""), ["b"]);
  assert.deepEqual(typedRuns(["b"], "not a url"), ["b"]);
});
