// Data access: the only module that knows the plugin's URLs. Every URL is relative to the
// document's <base href> (plugin/keras_inspect/), so it also works under --path_prefix.
// Responses are cached in memory, keyed by URL; the cache holds promises so that two panels
// asking for the same thing share one request, and it is cleared when TensorBoard reloads.

const MAX_ENTRIES = 600;
const cache = new Map(); // url -> Promise<json>, in least-recently-used order

/** An HTTP failure, with the status and the server's one-line reason. */
export class FetchError extends Error {
  constructor(url, status, reason) {
    const route = url.split("?")[0].replace(/^\.\//, "/");
    super(`${route} failed (${status})${reason ? `: ${reason}` : ""}`);
    this.name = "FetchError";
    this.status = status;
  }
}

function getJson(url) {
  return fetch(url, { credentials: "same-origin" }).then((response) => parseJson(url, response));
}

async function parseJson(url, response) {
  if (!response.ok) {
    let reason = "";
    try {
      reason = (await response.text()).split("\n")[0].trim().slice(0, 200);
    } catch (_) {
      reason = response.statusText;
    }
    throw new FetchError(url, response.status, reason);
  }
  return response.json();
}

function cached(url) {
  const hit = cache.get(url);
  if (hit) {
    cache.delete(url); // refresh its place in the LRU order
    cache.set(url, hit);
    return hit;
  }
  const promise = getJson(url);
  cache.set(url, promise);
  // A failure is not cached; this handler also keeps the stored promise from ever being an
  // unhandled rejection (callers get their own rejection through the returned promise).
  promise.catch(() => {
    if (cache.get(url) === promise) cache.delete(url);
  });
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value);
  return promise;
}

function url(route, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `./${route}?${text}` : `./${route}`;
}

/** Drops every cached response (called on TensorBoard's reload). */
export function clearCache() {
  cache.clear();
}

/**
 * GET /runs: {version, runs: [{run, steps, datasets, layers, quantities, classes, logs}]}.
 * `pending`, when given, is a fetch() of ./runs already made, whose answer is used instead.
 */
export function fetchRuns(pending = null) {
  // Never cached: this is what tells the dashboard that something changed.
  const runsUrl = url("runs", {});
  return pending ? pending.then((response) => parseJson(runsUrl, response)) : getJson(runsUrl);
}

// Per-run requests for the same route and quantity made in the same tick are sent as one
// multi-run request (`?run=a&run=b`): each call to TensorBoard's data server costs tens of
// milliseconds whatever its size, and a browser sends only six requests at a time. Each run's
// part is cached under its own single-run URL, so later calls for one run hit the cache.
const batches = new Map(); // "route\0quantity" -> Map(run -> {resolve, reject})

function withFilters(query, filters) {
  for (const [name, values] of Object.entries(filters)) {
    for (const value of values || []) query.append(name, String(value));
  }
  return query;
}

function batched(route, quantity, run, filters = {}) {
  const filterText = withFilters(new URLSearchParams(), filters).toString();
  const single = url(route, { run, quantity }) + (filterText ? `&${filterText}` : "");
  const hit = cache.get(single);
  if (hit) {
    cache.delete(single);
    cache.set(single, hit);
    return hit;
  }
  const key = `${route}\u0000${quantity ?? ""}\u0000${filterText}`;
  let batch = batches.get(key);
  if (!batch) {
    batch = { runs: new Map(), filters };
    batches.set(key, batch);
    setTimeout(() => sendBatch(route, quantity, key), 0);
  }
  const promise = new Promise((resolve, reject) => batch.runs.set(run, { resolve, reject }));
  cache.set(single, promise);
  promise.catch(() => {
    if (cache.get(single) === promise) cache.delete(single);
  });
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value);
  return promise;
}

async function sendBatch(route, quantity, key) {
  const batch = batches.get(key);
  batches.delete(key);
  const query = new URLSearchParams();
  for (const run of batch.runs.keys()) query.append("run", run);
  if (quantity !== undefined) query.set("quantity", quantity);
  withFilters(query, batch.filters);
  const batchUrl = `./${route}?${query.toString()}`;
  try {
    const answer = await getJson(batchUrl);
    const parts = new Map(answer.runs.map((part) => [part.run, part]));
    for (const [run, { resolve, reject }] of batch.runs) {
      const part = parts.get(run);
      if (part) resolve({ ...part, quantity });
      else reject(new FetchError(url(route, { run, quantity }), 404, `run has no ${quantity}`));
    }
  } catch (error) {
    for (const { reject } of batch.runs.values()) reject(error);
  }
}

/**
 * GET /scalars for one run: {run, quantity, series: [{dataset, layer, extra, steps, values}]}.
 * `datasets` and `layers` (arrays) keep only the series a chart draws; `step` keeps only each
 * series' point at the latest step <= step (for charts of one checkpoint).
 */
export function fetchScalars(run, quantity, { datasets, layers, step } = {}) {
  const at = step === null || step === undefined ? undefined : [step];
  return batched("scalars", quantity, run, { dataset: datasets, layer: layers, step: at });
}

/**
 * GET /values: {run, quantity, step, cells: [{dataset, layer, extra, shape, values}]}.
 * `dataset` and `layer` are optional filters.
 */
export function fetchValues(run, quantity, step, { dataset, layer } = {}) {
  return cached(url("values", { run, quantity, step, dataset, layer }));
}

/**
 * GET /history: {run, quantity, dataset, layer, cells: [{extra, steps, values}]}: every
 * checkpoint of a per-unit vector quantity for one dataset and layer (values[i] at steps[i]).
 */
export function fetchHistory(run, quantity, { dataset, layer }) {
  return cached(url("history", { run, quantity, dataset, layer }));
}

/** GET /logs for one run: {run, series: [{name, source, steps, values}]}. */
export function fetchLogs(run) {
  return batched("logs", undefined, run);
}

/**
 * GET /findings for one run: {run, findings: [{step, kind, severity, subject, message, dataset,
 * layer, group}]}, most severe first.
 */
export function fetchFindings(run) {
  return batched("findings", undefined, run);
}

/**
 * GET /cka: linear CKA between the layers of runs `a` (rows) and `b` (columns) at their
 * checkpoints at or before `step`: {runs, steps, datasets, layers, matrix, rows, refused}.
 */
export function fetchCka(a, b, step) {
  const query = new URLSearchParams();
  query.append("run", a);
  if (b !== a) query.append("run", b);
  query.set("step", String(step));
  return cached(`./cka?${query.toString()}`);
}
