// Turns what a panel has drawn into data a user can download (CSV or JSON). The source is the
// trace arrays Plotly keeps on each chart div (`div.data`), so an export always matches the
// chart on screen, whatever panel drew it. Everything here is pure except chartsOf() and
// download(), which touch the DOM only when called.
//
// Rows are "long": one row per drawn point (scatter, bar) or heatmap cell, with the trace's raw
// names (its `meta`) as columns, which is what pandas, R and spreadsheets pivot most easily.

// Columns every row may have; a `meta` key with one of these names becomes `meta_<key>`.
const FIXED_COLUMNS = new Set(["chart", "trace", "x", "y", "row", "column", "value", "customdata"]);

// Entities that dom.plotlyText() and HTML escaping produce; anything else is left as it is.
const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

// Spreadsheets run a cell starting with one of these as a formula (CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

// Keys of the JSON document that `extra` may not replace.
const RESERVED_JSON_KEYS = new Set(["panel", "exported_at", "rows"]);

const MAX_FILE_NAME = 120;
// Long enough for the browser to have started the download before its blob URL is revoked
// (revoking at once cancels it in some browsers), short enough not to hold the text for long.
const REVOKE_AFTER_MS = 30_000;

/**
 * Decodes the HTML entities in a Plotly display string (trace name, category, hover text):
 * panels escape user names with dom.plotlyText(), and an export should hold the raw names.
 * One pass, so "&amp;lt;" becomes "&lt;", the exact inverse of escaping "&" first.
 */
export function decodeEntities(text) {
  return String(text).replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    const named = NAMED_ENTITIES[body.toLowerCase()];
    return named === undefined ? whole : named;
  });
}

/** Whether `value` is a plain object (a trace's `meta` may also be an array or a string). */
function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A data value as an export cell: strings decoded (they are display strings), and NaN or a
 * missing value as null. Missing points are kept as empty cells rather than dropped, so the
 * row count of a trace is its point count in the chart (a gap in a line is a row too).
 */
function cell(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "number") return Number.isNaN(value) ? null : value;
  if (typeof value === "string") return decodeEntities(value);
  return value;
}

/**
 * Traces that only decorate a chart (the checkpoint cursor, shading, a background image under
 * a saliency map) carry no data of their own: panels mark them with `meta.decoration` or
 * `hoverinfo: "skip"`. Traces hidden with `visible: false` are not drawn at all.
 */
function isDecoration(trace) {
  if (!isPlainObject(trace)) return true;
  if (isPlainObject(trace.meta) && trace.meta.decoration === true) return true;
  return trace.hoverinfo === "skip" || trace.visible === false;
}

/**
 * The trace's label, unescaped: an explicit raw `meta.trace` or `meta.name` first, then the
 * legend name decoded, then the main raw names of `meta` joined as traceName() joins them.
 */
export function traceLabel(trace, index = 0) {
  const meta = isPlainObject(trace.meta) ? trace.meta : {};
  for (const key of ["trace", "name"]) {
    if (typeof meta[key] === "string" && meta[key] !== "") return meta[key];
  }
  if (typeof trace.name === "string" && trace.name !== "") return decodeEntities(trace.name);
  const parts = ["run", "dataset", "layer", "class", "label", "kind"]
    .map((key) => meta[key])
    .filter((v) => (typeof v === "string" && v !== "") || typeof v === "number");
  return parts.length ? parts.join(" · ") : `trace ${index}`;
}

/**
 * The scalar fields of `meta` as columns, in meta's key order. Arrays and objects (unit orders,
 * group lists) are left out: they describe the whole trace, not a row. `meta.trace` is the
 * label (traceLabel), and `meta.decoration` only marks decorations, so neither is repeated.
 */
export function metaColumns(meta) {
  const columns = {};
  if (!isPlainObject(meta)) return columns;
  for (const [key, value] of Object.entries(meta)) {
    if (key === "trace" || key === "decoration") continue;
    const kind = typeof value;
    if (kind !== "string" && kind !== "number" && kind !== "boolean") continue;
    const clash = FIXED_COLUMNS.has(key) || /^customdata_\d+$/.test(key);
    columns[clash ? `meta_${key}` : key] = kind === "number" && Number.isNaN(value) ? null : value;
  }
  return columns;
}

/**
 * A point's customdata as columns: one `customdata` column for a scalar, `customdata_0`,
 * `customdata_1`, ... for an array (the correlation heatmap's [row unit, column unit], say).
 */
function customColumns(custom) {
  if (custom === undefined) return {};
  if (!Array.isArray(custom)) return { customdata: cell(custom) };
  const columns = {};
  custom.forEach((value, i) => {
    columns[`customdata_${i}`] = Array.isArray(value) || isPlainObject(value) ? JSON.stringify(value) : cell(value);
  });
  return columns;
}

/**
 * Position `i` on a trace's x or y axis: the array when given, else Plotly's own default
 * (`x0 + i * dx`, which is the index 0, 1, ... unless the trace sets x0/dx).
 */
function axisValue(trace, axis, i) {
  const values = trace[axis];
  if (Array.isArray(values) || ArrayBuffer.isView(values)) return cell(values[i]);
  const start = Number(trace[`${axis}0`] ?? 0);
  const step = Number(trace[`d${axis}`] ?? 1);
  return Number.isFinite(start) && Number.isFinite(step) ? start + i * step : i;
}

/** Length of an array-like trace field, or null when the field is not one. */
function lengthOf(values) {
  return Array.isArray(values) || ArrayBuffer.isView(values) ? values.length : null;
}

/**
 * One row per point of a scatter or bar trace. Columns `x` and `y` are the chart's axes as
 * drawn, so for a horizontal bar (orientation "h") `y` is the category and `x` the value.
 * Like Plotly, a trace with both x and y draws as many points as the shorter of them has.
 */
function pointRows(base, trace) {
  const xs = lengthOf(trace.x);
  const ys = lengthOf(trace.y);
  if (xs === null && ys === null) return [];
  const count = xs === null ? ys : ys === null ? xs : Math.min(xs, ys);
  const custom = Array.isArray(trace.customdata) ? trace.customdata : null;
  const rows = [];
  for (let i = 0; i < count; i += 1) {
    rows.push({
      ...base,
      x: axisValue(trace, "x", i),
      y: axisValue(trace, "y", i),
      ...(custom ? customColumns(custom[i]) : {}),
    });
  }
  return rows;
}

/**
 * One row per heatmap cell, row-major: `row` and `column` are the y and x labels when the trace
 * has them (else the indices) and `value` is z. A 1-D z is one row, as Plotly draws it.
 */
function cellRows(base, trace) {
  const z = Array.from(trace.z).some((values) => lengthOf(values) !== null) ? trace.z : [trace.z];
  const custom = Array.isArray(trace.customdata) ? trace.customdata : null;
  const rows = [];
  z.forEach((values, r) => {
    const customRow = custom && Array.isArray(custom[r]) ? custom[r] : null;
    for (let c = 0; c < (values ? values.length : 0); c += 1) {
      rows.push({
        ...base,
        row: axisValue(trace, "y", r),
        column: axisValue(trace, "x", c),
        value: cell(values[c]),
        ...(customRow ? customColumns(customRow[c]) : {}),
      });
    }
  });
  return rows;
}

/** Whether a trace is drawn from a z matrix (heatmap, contour) rather than from points. */
function isMatrixTrace(trace) {
  return (trace.type === "heatmap" || trace.type === "contour" || trace.type === "heatmapgl") && (Array.isArray(trace.z) || ArrayBuffer.isView(trace.z));
}

/**
 * The data of one chart's traces as flat rows (see the top of this file). `traces` is what
 * Plotly keeps in `div.data`; decoration traces are skipped.
 */
export function tracesToRows(chartName, traces) {
  const rows = [];
  (traces || []).forEach((trace, index) => {
    if (isDecoration(trace)) return;
    const base = { chart: chartName, trace: traceLabel(trace, index), ...metaColumns(trace.meta) };
    rows.push(...(isMatrixTrace(trace) ? cellRows(base, trace) : pointRows(base, trace)));
  });
  return rows;
}

/** The rows of every chart of a panel, chart after chart; `charts` is [{name, data}]. */
export function panelRows(charts) {
  return (charts || []).flatMap(({ name, data }) => tracesToRows(name, data));
}

/**
 * The drawn charts of a panel body, in page order, as panelRows() takes them. Reads the DOM,
 * so call it from a click handler, not at import time.
 */
export function chartsOf(container) {
  return [...container.querySelectorAll(":scope > .ki-chart")]
    .filter((div) => Array.isArray(div.data))
    .map((div) => ({ name: div.dataset.chart, data: div.data }));
}

/**
 * A string cell safe to open in a spreadsheet: text that would run as a formula gets a leading
 * single quote. A plain number such as "-0.5" is left alone, since it cannot run anything and
 * the quote would turn it into text.
 */
function guardFormula(text) {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/** One CSV field (RFC 4180): quoted, with quotes doubled, when it holds , " CR or LF. */
function csvField(value) {
  let text;
  if (value === null || value === undefined) text = "";
  else if (typeof value === "number") text = Number.isNaN(value) ? "" : String(value); // shortest exact form
  else if (typeof value === "string") text = guardFormula(value);
  else if (typeof value === "object") text = guardFormula(JSON.stringify(value));
  else text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The union of the rows' keys, in the order they are first seen. */
export function csvHeader(rows) {
  const keys = new Set();
  for (const row of rows) for (const key of Object.keys(row)) keys.add(key);
  return [...keys];
}

/**
 * Rows as RFC 4180 CSV: a header line, CRLF line ends (the last line too), and an empty cell
 * wherever a row lacks a column. An empty list gives "".
 */
export function toCsv(rows) {
  const header = csvHeader(rows || []);
  if (!header.length) return "";
  const lines = [header.map(csvField).join(",")];
  for (const row of rows) lines.push(header.map((key) => csvField(row[key])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * The rows as a pretty JSON document {panel, exported_at, ...extra, rows}. `extra.exported_at`
 * (an ISO string) is used when given, so a caller or a test can fix it. JSON has no NaN or
 * Infinity: such numbers are written as null.
 */
export function toJson(panelId, rows, extra = {}) {
  const rest = Object.fromEntries(Object.entries(extra || {}).filter(([key]) => !RESERVED_JSON_KEYS.has(key)));
  const exportedAt = extra && extra.exported_at ? extra.exported_at : new Date().toISOString();
  const payload = { panel: panelId, exported_at: exportedAt, ...rest, rows: rows || [] };
  return JSON.stringify(payload, null, 2);
}

/** A file-name part with everything outside [A-Za-z0-9._-] replaced by "_". */
function safePart(text) {
  return String(text).replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * A safe download name such as "keras_inspect-correlation-dense_1-train-step_40.csv": panel,
 * then the layer and dataset when given, then the step. At most 120 characters; a long name is
 * cut before the extension, which is kept.
 */
export function fileName(panelId, state = {}, ext = "csv") {
  const { step, layer, dataset } = state || {};
  const parts = ["keras_inspect", panelId];
  if (layer !== undefined && layer !== null && layer !== "") parts.push(layer);
  if (dataset !== undefined && dataset !== null && dataset !== "") parts.push(dataset);
  if (step !== undefined && step !== null && step !== "") parts.push(`step_${step}`);
  const stem = parts.map(safePart).join("-");
  const suffix = ext ? `.${safePart(String(ext).replace(/^\.+/, ""))}` : "";
  return `${stem.slice(0, Math.max(1, MAX_FILE_NAME - suffix.length))}${suffix}`.slice(0, MAX_FILE_NAME);
}

/**
 * Saves `text` as a file called `name` by clicking a temporary <a download>. The link points to
 * a blob: URL; TensorBoard's Content-Security-Policy lists blob: only under img-src, but a
 * download link is a navigation, which neither img-src nor connect-src governs, so it works in
 * the plugin's (same-origin, unsandboxed) iframe. Without URL.createObjectURL it falls back to a
 * data: URL. `env` (default: the page's globals) lets a test pass stand-ins. Returns the
 * kind of URL used, "blob" or "data".
 */
export function download(text, name, mime = "text/plain", env = globalThis) {
  const { document: doc, URL: urls, Blob: BlobType } = env;
  const type = `${mime};charset=utf-8`;
  let href;
  let revoke = null;
  if (urls && typeof urls.createObjectURL === "function" && typeof BlobType === "function") {
    href = urls.createObjectURL(new BlobType([text], { type }));
    revoke = () => urls.revokeObjectURL(href);
  } else {
    href = `data:${type},${encodeURIComponent(text)}`;
  }
  const link = doc.createElement("a");
  link.href = href;
  link.download = name;
  link.rel = "noopener";
  link.style.display = "none";
  doc.body.append(link);
  link.click();
  link.remove();
  if (revoke) {
    const later = env.setTimeout || setTimeout;
    later(revoke, REVOKE_AFTER_MS);
  }
  return revoke ? "blob" : "data";
}
