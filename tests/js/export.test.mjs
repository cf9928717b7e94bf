// Unit tests of the panel export (tb_plugin/static/export.js): `node --test tests/js/`.
// They pin what a downloaded file holds: one row per drawn point or cell, raw (unescaped)
// names, CSV that spreadsheets and pandas read back as written, and safe file names.

import assert from "node:assert/strict";
import test from "node:test";

import { plotlyText } from "../../tb_plugin/static/dom.js";
import { decodeEntities, download, fileName, panelRows, toCsv, toJson, tracesToRows } from "../../tb_plugin/static/export.js";

test("export: a scatter trace gives one row per point, meta as columns, gaps kept", () => {
  const trace = {
    type: "scatter",
    x: [0, 1, 2],
    y: [0.5, null, NaN],
    name: "run · train",
    meta: { run: "run", dataset: "train", layer: "dense_1", units: [1, 2], step: 4, flag: true },
  };
  const rows = tracesToRows("mean", [trace]);
  assert.equal(rows.length, 3); // the null and NaN points stay, as empty cells
  assert.deepEqual(rows[0], { chart: "mean", trace: "run · train", run: "run", dataset: "train", layer: "dense_1", step: 4, flag: true, x: 0, y: 0.5 });
  assert.equal(rows[1].y, null);
  assert.equal(rows[2].y, null);
  assert.ok(!("units" in rows[0]), "array meta fields describe the trace, not a row");
});

test("export: a horizontal bar keeps its axes, category on y and value on x", () => {
  const trace = { type: "bar", orientation: "h", y: ["user&lt;id&gt;", "price"], x: [0.9, 0.1], customdata: ["user<id> (full)", "price"], name: "r" };
  const rows = tracesToRows("bars", [trace]);
  assert.deepEqual(
    rows.map((r) => [r.y, r.x, r.customdata]),
    [
      ["user<id>", 0.9, "user<id> (full)"],
      ["price", 0.1, "price"],
    ],
  );
});

test("export: a bar or scatter without x counts points from 0, and stops at the shorter array", () => {
  assert.deepEqual(
    tracesToRows("c", [{ type: "bar", y: [3, 4] }]).map((r) => [r.x, r.y]),
    [
      [0, 3],
      [1, 4],
    ],
  );
  assert.equal(tracesToRows("c", [{ x: [1, 2, 3], y: [1, 2] }]).length, 2);
});

test("export: a heatmap gives one row per cell, with labels when it has them", () => {
  const labelled = { type: "heatmap", x: [10, 20], y: ["a", "b &amp; c"], z: [[1, 2], [3, null]], name: "r1" };
  assert.deepEqual(
    tracesToRows("m", [labelled]).map((r) => [r.row, r.column, r.value]),
    [
      ["a", 10, 1],
      ["a", 20, 2],
      ["b & c", 10, 3],
      ["b & c", 20, null],
    ],
  );
  const bare = { type: "heatmap", z: [[5, 6, 7]], customdata: [[[0, 1], [0, 2], [0, 3]]] };
  const rows = tracesToRows("m", [bare]);
  assert.deepEqual(
    rows.map((r) => [r.row, r.column, r.value, r.customdata_0, r.customdata_1]),
    [
      [0, 0, 5, 0, 1],
      [0, 1, 6, 0, 2],
      [0, 2, 7, 0, 3],
    ],
  );
  assert.equal(rows[0].trace, "trace 0"); // no name and no meta: its index
});

test("export: meta keys that clash with fixed columns are prefixed with meta_", () => {
  const [row] = tracesToRows("c", [{ x: [1], y: [2], meta: { x: "mx", value: 3, chart: "other", row: 1, run: "r" } }]);
  assert.equal(row.chart, "c");
  assert.equal(row.x, 1);
  assert.equal(row.meta_x, "mx");
  assert.equal(row.meta_value, 3);
  assert.equal(row.meta_chart, "other");
  assert.equal(row.meta_row, 1);
  assert.equal(row.run, "r");
});

test("export: trace labels are raw names: meta first, then the decoded legend name", () => {
  const raw = `a<b>&"c"'$`;
  const [fromName] = tracesToRows("c", [{ x: [0], y: [0], name: plotlyText(raw) }]);
  assert.equal(fromName.trace, raw);
  assert.equal(decodeEntities("&lt;i&gt; &quot;q&quot; &#39;s&#39; &amp;amp; &#36;x &#x41;"), `<i> "q" 's' &amp; $x A`);
  const [fromMeta] = tracesToRows("c", [{ x: [0], y: [0], name: "escaped &amp; shortened", meta: { trace: "raw & full" } }]);
  assert.equal(fromMeta.trace, "raw & full");
  assert.ok(!("meta_trace" in fromMeta));
  const [noName] = tracesToRows("c", [{ x: [0], y: [0], meta: { run: "r<1>", dataset: "test" } }]);
  assert.equal(noName.trace, "r<1> · test");
});

test("export: decoration traces (cursor lines, shading, backgrounds) are skipped", () => {
  const rows = tracesToRows("c", [
    { x: [1, 1], y: [0, 1], meta: { decoration: true } },
    { type: "heatmap", z: [[1]], hoverinfo: "skip" },
    { x: [0], y: [0], visible: false },
    { x: [0], y: [9], name: "data" },
  ]);
  assert.deepEqual(rows.map((r) => r.trace), ["data"]);
});

test("export: panelRows joins the charts of a panel in order", () => {
  const rows = panelRows([
    { name: "a", data: [{ x: [0], y: [1] }] },
    { name: "b", data: [{ type: "heatmap", z: [[2]] }] },
    { name: "c", data: undefined },
  ]);
  assert.deepEqual(rows.map((r) => r.chart), ["a", "b"]);
});

test("csv: union header in first-seen order, empty cells, CRLF line ends", () => {
  const csv = toCsv([{ a: 1, b: "x" }, { b: "y", c: true }, { a: null }]);
  assert.equal(csv, "a,b,c\r\n1,x,\r\n,y,true\r\n,,\r\n");
  assert.equal(toCsv([]), "");
});

test("csv: quoting per RFC 4180 and numbers at full precision", () => {
  const csv = toCsv([{ s: 'he said "hi", twice', n: 0.1 + 0.2, t: "line1\nline2", r: "a\rb", big: 1e21, small: 1e-7 }]);
  const [, line] = csv.split("\r\n");
  assert.equal(line, `"he said ""hi"", twice",0.30000000000000004,"line1\nline2","a\rb",1e+21,1e-7`);
});

test("csv: text that a spreadsheet would run as a formula gets a leading quote", () => {
  const values = ["=SUM(A1)", "+1+1", "-cmd", "@x", "\tx", "\rx", "-0.5", "1e-3", "+2", "-1.5E+3", "plain"];
  const rows = values.map((v) => ({ v }));
  const cells = toCsv(rows).split("\r\n").slice(1, -1);
  assert.deepEqual(cells, ["'=SUM(A1)", "'+1+1", "'-cmd", "'@x", "'\tx", `"'\rx"`, "-0.5", "1e-3", "+2", "-1.5E+3", "plain"]);
  assert.equal(toCsv([{ n: -0.5 }]), "n\r\n-0.5\r\n"); // numbers are never prefixed
});

test("json: panel, timestamp, extra fields and rows", () => {
  const text = toJson("correlation", [{ x: 1, y: NaN }], { exported_at: "2024-01-02T03:04:05.000Z", state: { step: 4 }, rows: "ignored" });
  const doc = JSON.parse(text);
  assert.deepEqual(doc, { panel: "correlation", exported_at: "2024-01-02T03:04:05.000Z", state: { step: 4 }, rows: [{ x: 1, y: null }] });
  assert.match(text, /\n  "panel"/); // pretty-printed
  assert.ok(!Number.isNaN(Date.parse(JSON.parse(toJson("p", [])).exported_at)));
});

test("file names: panel, layer, dataset and step, sanitised and capped", () => {
  assert.equal(fileName("correlation", { step: 40 }), "keras_inspect-correlation-step_40.csv");
  assert.equal(fileName("neurons", { step: 0, layer: "block 1/conv:0", dataset: "test ä" }, "json"), "keras_inspect-neurons-block_1_conv_0-test__-step_0.json");
  assert.equal(fileName("loss", {}, ".csv"), "keras_inspect-loss.csv");
  assert.equal(fileName("x", { layer: "../../etc/passwd" }), "keras_inspect-x-.._.._etc_passwd.csv");
  const long = fileName("probes", { layer: "l".repeat(300), step: 1 });
  assert.equal(long.length, 120);
  assert.ok(long.endsWith(".csv"));
  assert.match(long, /^[A-Za-z0-9._-]+$/);
});

/** Stand-ins for the few browser globals download() uses. */
function fakeBrowser({ blobs = true } = {}) {
  const log = { clicked: [], revoked: [], timers: [], appended: 0 };
  const body = { append: () => (log.appended += 1) };
  const document = {
    body,
    createElement: (tag) => {
      const node = { tag, style: {}, click: () => log.clicked.push({ href: node.href, download: node.download }), remove: () => (log.appended -= 1) };
      return node;
    },
  };
  const env = { document, setTimeout: (fn, ms) => log.timers.push({ fn, ms }) };
  if (blobs) {
    env.Blob = class {
      constructor(parts, options) {
        this.parts = parts;
        this.type = options.type;
      }
    };
    env.URL = { createObjectURL: (blob) => ((log.blob = blob), "blob:fake/1"), revokeObjectURL: (url) => log.revoked.push(url) };
  }
  return { env, log };
}

test("download: clicks a temporary link to a blob URL and revokes it later", () => {
  const { env, log } = fakeBrowser();
  assert.equal(download("a,b\r\n", "f.csv", "text/csv", env), "blob");
  assert.deepEqual(log.clicked, [{ href: "blob:fake/1", download: "f.csv" }]);
  assert.equal(log.blob.type, "text/csv;charset=utf-8");
  assert.equal(log.appended, 0, "the link is removed again");
  assert.deepEqual(log.revoked, []);
  log.timers[0].fn();
  assert.deepEqual(log.revoked, ["blob:fake/1"]);
});

test("download: falls back to a data: URL without URL.createObjectURL", () => {
  const { env, log } = fakeBrowser({ blobs: false });
  assert.equal(download("x = 1 & y", "f.txt", "text/plain", env), "data");
  assert.equal(log.clicked[0].href, "data:text/plain;charset=utf-8,x%20%3D%201%20%26%20y");
  assert.equal(log.timers.length, 0);
});
