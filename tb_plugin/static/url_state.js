// The view in the page address, so that a view can be shared and survives a reload:
//
//   ?inspect_run=ctr&inspect_run_2=compare/ctr_3_layers   runs shown (all when absent)
//   &inspect_dataset=train&inspect_dataset_2=test5        datasets ticked (defaults when absent)
//   &inspect_focus=test5&inspect_layer=dense_1            focus dataset, layer
//   &inspect_step=40                                      checkpoint (the newest when absent)
//   &inspect_saliency.groups=all                          a panel's own choices: panel.choice
//   #keras_inspect
//
// Only what differs from the defaults is written, so an address stays short and a run added to
// the logdir later is shown on a reload of an address that did not name runs.
//
// The plugin lives in a same-origin iframe: the address is TensorBoard's (the parent page's),
// rewritten with history.replaceState (no history entry per click). TensorBoard keeps the
// parameters it does not know, but whenever it rewrites the address (before the plugin loads,
// and on every switch of tab) it keeps only the LAST value of a repeated parameter. So lists are
// written with numbered keys (inspect_run, inspect_run_2, ...), which survive. A repeated key
// typed by hand (?inspect_run=a&inspect_run=b, as the README shows) is still read in full from
// the page's navigation entry, which holds the address as loaded (typedValues).

const PREFIX = "inspect_";
export const KEYS = {
  runs: `${PREFIX}run`,
  datasets: `${PREFIX}dataset`,
  focus: `${PREFIX}focus`,
  layer: `${PREFIX}layer`,
  step: `${PREFIX}step`,
};
const LISTS = ["runs", "datasets"];
// inspect_<panel>.<choice>: panel ids and choice keys are [a-z0-9_].
const OPTION = /^inspect_([a-z0-9_]+)\.([a-z0-9_]+)$/;

/**
 * The values of repeated parameter `key`: those of the address as loaded (`typed`, a URL string)
 * when they include every current one (TensorBoard kept only the last), else the current ones.
 */
export function typedValues(current, typed, key) {
  if (!current.length || !typed) return current;
  let named = [];
  try {
    named = new URL(typed).searchParams.getAll(key);
  } catch (_) {
    return current;
  }
  return current.every((value) => named.includes(value)) ? [...new Set(named)] : current;
}

/** The values of list `key`: `key` (repeated, see typedValues), then `key_2`, `key_3`, ... */
function listValues(params, typed, key) {
  const values = [...typedValues(params.getAll(key), typed, key)];
  const numbered = [];
  for (const [name, value] of params) {
    const match = name.startsWith(`${key}_`) ? /^\d+$/.exec(name.slice(key.length + 1)) : null;
    if (match) numbered.push([Number(match[0]), value]);
  }
  numbered.sort((a, b) => a[0] - b[0]);
  for (const [, value] of numbered) if (!values.includes(value)) values.push(value);
  return values;
}

/**
 * The view named by an address: {runs, datasets, focus, layer, step, options} (lists empty and
 * scalars null when absent; options a Map "panel.choice" -> value). `search` is the current
 * query string, `typed` the address as loaded (see typedValues).
 */
export function viewFromSearch(search, typed = "") {
  const params = new URLSearchParams(search);
  const stepText = params.get(KEYS.step);
  const step = stepText !== null && stepText.trim() !== "" && Number.isFinite(Number(stepText)) ? Number(stepText) : null;
  const options = new Map();
  for (const [name, value] of params) {
    const match = OPTION.exec(name);
    if (match) options.set(`${match[1]}.${match[2]}`, value);
  }
  return {
    runs: listValues(params, typed, KEYS.runs),
    datasets: listValues(params, typed, KEYS.datasets),
    focus: params.get(KEYS.focus),
    layer: params.get(KEYS.layer),
    step,
    options,
  };
}

/** Whether query parameter `name` is one of the view's (and so rewritten by searchWithView). */
function isViewParam(name) {
  if (OPTION.test(name)) return true;
  return Object.values(KEYS).some((key) => name === key || (LISTS.some((list) => KEYS[list] === key) && new RegExp(`^${key}_\\d+$`).test(name)));
}

/**
 * `search` with the view's parameters replaced by those of `view` ({runs, datasets, focus,
 * layer, step, options}; null, undefined or empty fields are left out). Other parameters, such
 * as TensorBoard's own, are kept. Returns the new query string, "" or starting with "?".
 */
export function searchWithView(search, view) {
  const params = new URLSearchParams(search);
  for (const name of [...params.keys()]) if (isViewParam(name)) params.delete(name);
  for (const list of LISTS) {
    (view[list] || []).forEach((value, i) => params.set(i === 0 ? KEYS[list] : `${KEYS[list]}_${i + 1}`, String(value)));
  }
  for (const name of ["focus", "layer", "step"]) {
    const value = view[name];
    if (value !== null && value !== undefined && value !== "") params.set(KEYS[name], String(value));
  }
  for (const [key, value] of view.options || []) {
    const [panel, choice] = key.split(".");
    if (OPTION.test(`${PREFIX}${panel}.${choice}`)) params.set(`${PREFIX}${panel}.${choice}`, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
