// The selection (which runs, datasets, layer and checkpoint the user looks at), kept consistent
// with the catalogue of runs from /runs, with subscribe/notify.
//
// Defaults: every run selected, the first DEFAULT_DATASETS datasets of the selected runs shown
// in overlays (the user can tick more), focus dataset "train" (else the first), the first layer,
// the latest step; a view from the page address (url_state.js) overrides them at the first
// catalogue. Selections are stored as what the user turned OFF, so runs that appear on a reload
// are shown, and what the user hid stays hidden. `view` is what differs from the defaults.

import { traceStyle } from "./colors.js";

// Not a layer of the model: "input" stands for the model input (input samples, their entropy).
export const PSEUDO_LAYERS = new Set(["input"]);

export const DEFAULT_DATASETS = 3;

export function unionInOrder(lists) {
  // An item new to the union goes right after the item before it in its own list (so a run
  // with an extra layer 4 puts it between layer 3 and the output, not after the output), or,
  // when none before it is known, before the next known one; items of a list that shares
  // nothing with the others (another model) go at the end.
  const out = [];
  for (const list of lists) {
    const items = list || [];
    let after = -1; // position in `out` of the previous item of this list
    items.forEach((item, i) => {
      const at = out.indexOf(item);
      if (at >= 0) {
        after = at;
        return;
      }
      let where = after + 1;
      if (after < 0) {
        const next = items.slice(i + 1).find((later) => out.includes(later));
        where = next === undefined ? out.length : out.indexOf(next);
      }
      out.splice(where, 0, item);
      after = where;
    });
  }
  return out;
}

/** `train` (the reference dataset of every comparison) first, the rest in their order. */
function trainFirst(datasets) {
  return datasets.includes("train") ? ["train", ...datasets.filter((d) => d !== "train")] : datasets;
}

/** The latest element of sorted `steps` that is <= `step`, or null. */
export function stepAtOrBefore(steps, step) {
  let found = null;
  for (const s of steps) {
    if (s <= step) found = s;
    else break;
  }
  return found;
}

export class Selection {
  /**
   * `runs`: run names to show first (e.g. from the page URL); all runs when none matches.
   * `view`: {datasets, focus, layer, step} from the page URL, applied where they exist.
   */
  constructor({ runs = [], view = null } = {}) {
    this.catalog = []; // [{run, steps, datasets, layers, quantities, classes, logs}]
    this.hiddenRuns = new Set();
    this.firstRuns = runs.length ? new Set(runs) : null; // applied at the first catalogue
    this.firstView = view; // likewise
    this.defaultDatasets = []; // the datasets shown by default at the first catalogue
    this.hiddenDatasets = new Set();
    this.seenDatasets = new Set();
    this.styleSlots = new Map(); // shown dataset -> its line-style slot (see styleIndex)
    this.dataset = null; // focus dataset (single-dataset views such as the correlation heatmap)
    this.layer = null;
    this.step = null;
    this.followLatest = true; // the step tracks the newest checkpoint until the user moves it
    this.listeners = new Set();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(changed) {
    for (const listener of [...this.listeners]) listener(this, changed);
  }

  // ----- derived views -------------------------------------------------------------------

  get allRunNames() {
    return this.catalog.map((r) => r.run);
  }

  /** Run infos of the selected runs, in catalogue (name) order. */
  get selectedRuns() {
    return this.catalog.filter((r) => !this.hiddenRuns.has(r.run));
  }

  get runs() {
    return this.selectedRuns.map((r) => r.run);
  }

  /** Runs whose datasets/layers/steps feed the selectors: the selected ones, or all if none. */
  get scopeRuns() {
    const selected = this.selectedRuns;
    return selected.length ? selected : this.catalog;
  }

  /** Every dataset of every run, `train` first, then in order of first appearance: the order
   * behind line styles (so `train` is always solid). */
  get datasetOrder() {
    return trainFirst(unionInOrder(this.catalog.map((r) => r.datasets)));
  }

  /** Datasets offered by the selectors (those of the selected runs). */
  get availableDatasets() {
    return trainFirst(unionInOrder(this.scopeRuns.map((r) => r.datasets)));
  }

  /** Datasets drawn in overlay panels. */
  get datasets() {
    return this.availableDatasets.filter((d) => !this.hiddenDatasets.has(d));
  }

  /**
   * The line-style slot (colors.datasetStyle) of a shown dataset, or null for one not shown.
   *
   * Slots go to the datasets shown, not to every dataset of every run: several runs of
   * different models can hold 15 datasets between them, and styles cycling over all of them
   * would give two of the few shown the same dash. A dataset keeps its slot while it is shown;
   * one newly shown takes the lowest free slot; `train`, when a run has it, always has slot 0
   * (solid).
   */
  styleIndex(dataset) {
    const shown = this.datasets;
    const keep = new Set(shown);
    for (const name of [...this.styleSlots.keys()]) if (!keep.has(name)) this.styleSlots.delete(name);
    const taken = new Set(this.styleSlots.values());
    if (this.datasetOrder.includes("train")) {
      taken.add(0); // train's, shown or not
      if (keep.has("train")) this.styleSlots.set("train", 0);
    }
    for (const name of shown) {
      if (this.styleSlots.has(name)) continue;
      let slot = 0;
      while (taken.has(slot)) slot += 1;
      this.styleSlots.set(name, slot);
      taken.add(slot);
    }
    return this.styleSlots.has(dataset) ? this.styleSlots.get(dataset) : null;
  }

  /** Whether traces are coloured by dataset (one run selected) rather than by run. */
  get colorByDataset() {
    return this.runs.length <= 1;
  }

  /** The trace style of (`run`, `dataset`): colors.traceStyle with the dataset's slot. */
  traceStyle(run, dataset) {
    const slot = this.styleIndex(dataset) ?? Math.max(0, this.datasetOrder.indexOf(dataset));
    return traceStyle(run, slot, this.colorByDataset);
  }

  /** Layers to choose from, in model order (the pseudo-layer "input" is not one). */
  get availableLayers() {
    return unionInOrder(this.scopeRuns.map((r) => r.layers)).filter((layer) => !PSEUDO_LAYERS.has(layer));
  }

  /** Union of the checkpoint steps of the selected runs, sorted. */
  get steps() {
    const all = new Set();
    for (const r of this.scopeRuns) for (const s of r.steps || []) all.add(s);
    return [...all].sort((a, b) => a - b);
  }

  /** The checkpoint of `runInfo` shown at the current step: latest at or before it, or null. */
  stepFor(runInfo) {
    if (this.step === null) return null;
    return stepAtOrBefore(runInfo.steps || [], this.step);
  }

  /**
   * What differs from the defaults, for the page address: {runs, datasets, focus, layer, step}
   * with [] / null where the default holds (all runs, the default datasets, train, the first
   * layer, the newest checkpoint).
   */
  get view() {
    const runs = this.hiddenRuns.size ? this.runs : [];
    const shown = this.datasets;
    const defaults = this.defaultDatasets.filter((d) => this.availableDatasets.includes(d));
    const sameDatasets = shown.length === defaults.length && shown.every((d) => defaults.includes(d));
    const available = this.availableDatasets;
    const defaultFocus = available.includes("train") ? "train" : available[0] ?? null;
    return {
      runs,
      datasets: sameDatasets ? [] : shown,
      focus: this.dataset !== defaultFocus ? this.dataset : null,
      layer: this.layer !== (this.availableLayers[0] ?? null) ? this.layer : null,
      step: this.followLatest ? null : this.step,
    };
  }

  snapshot() {
    return {
      runs: this.runs,
      dataset: this.dataset,
      datasets: this.datasets,
      layer: this.layer,
      step: this.step,
    };
  }

  // ----- updates ---------------------------------------------------------------------------

  /** Replaces the catalogue (first load or reload) and repairs the selection. */
  setCatalog(runInfos) {
    this.catalog = [...runInfos].sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
    const names = new Set(this.allRunNames);
    for (const run of [...this.hiddenRuns]) if (!names.has(run)) this.hiddenRuns.delete(run);
    if (this.firstRuns && this.catalog.length) {
      if (this.allRunNames.some((run) => this.firstRuns.has(run))) {
        this.hiddenRuns = new Set(this.allRunNames.filter((run) => !this.firstRuns.has(run)));
      }
      this.firstRuns = null; // only the first catalogue: later choices are the user's
    }
    // New datasets are shown if they are among the first of the runs selected now (a page
    // opened on one run shows that run's first datasets, not those of the whole logdir).
    const defaults = new Set(this.availableDatasets.slice(0, DEFAULT_DATASETS));
    if (!this.defaultDatasets.length) this.defaultDatasets = [...defaults];
    for (const dataset of this.datasetOrder) {
      if (this.seenDatasets.has(dataset)) continue;
      this.seenDatasets.add(dataset);
      if (!defaults.has(dataset)) this.hiddenDatasets.add(dataset);
    }
    this.repair();
    if (this.firstView && this.catalog.length) {
      this.applyView(this.firstView);
      this.firstView = null;
    }
    this.notify(new Set(["catalog", "runs", "dataset", "datasets", "layer", "step"]));
  }

  /**
   * Applies a view from the page address ({datasets, focus, layer, step}); names that do not
   * exist (a run renamed, a layer gone) are ignored, keeping the defaults.
   */
  applyView({ datasets = [], focus = null, layer = null, step = null }) {
    const available = this.availableDatasets;
    const named = datasets.filter((d) => available.includes(d));
    if (named.length) this.hiddenDatasets = new Set(this.datasetOrder.filter((d) => !named.includes(d)));
    if (focus !== null && available.includes(focus)) this.dataset = focus;
    if (layer !== null && this.availableLayers.includes(layer)) this.layer = layer;
    const steps = this.steps;
    if (step !== null && Number.isFinite(step) && steps.length) {
      this.step = stepAtOrBefore(steps, step) ?? steps[0];
      this.followLatest = this.step === steps[steps.length - 1];
    }
    this.repair();
  }

  /** Keeps dataset, layer and step valid after the catalogue or the run selection changed. */
  repair() {
    const datasets = this.availableDatasets;
    if (!datasets.includes(this.dataset)) {
      this.dataset = datasets.includes("train") ? "train" : datasets[0] ?? null;
    }
    if (this.dataset !== null) this.hiddenDatasets.delete(this.dataset); // focus is always drawn
    const layers = this.availableLayers;
    if (!layers.includes(this.layer)) this.layer = layers[0] ?? null;
    const steps = this.steps;
    if (!steps.length) {
      this.step = null;
    } else if (this.followLatest || this.step === null) {
      this.step = steps[steps.length - 1];
    } else if (!steps.includes(this.step)) {
      this.step = stepAtOrBefore(steps, this.step) ?? steps[0];
    }
  }

  setRunSelected(run, selected) {
    if (selected) this.hiddenRuns.delete(run);
    else this.hiddenRuns.add(run);
    this.repair();
    this.notify(new Set(["runs", "dataset", "datasets", "layer", "step"]));
  }

  setAllRunsSelected(selected) {
    this.hiddenRuns = selected ? new Set() : new Set(this.allRunNames);
    this.repair();
    this.notify(new Set(["runs", "dataset", "datasets", "layer", "step"]));
  }

  setDatasetShown(dataset, shown) {
    if (shown) this.hiddenDatasets.delete(dataset);
    else this.hiddenDatasets.add(dataset);
    this.notify(new Set(["datasets"]));
  }

  setDataset(dataset) {
    if (dataset === this.dataset || !this.availableDatasets.includes(dataset)) return;
    this.dataset = dataset;
    this.hiddenDatasets.delete(dataset); // the focus dataset is always drawn
    this.notify(new Set(["dataset", "datasets"]));
  }

  setLayer(layer) {
    if (layer === this.layer || !this.availableLayers.includes(layer)) return;
    this.layer = layer;
    this.notify(new Set(["layer"]));
  }

  /**
   * Goes to a place in one change (one render, one address update): the checkpoint at or before
   * `step`, `layer`, and `dataset` as the focus dataset (so also ticked). Null or unknown
   * values are left as they are. Used by the findings list.
   */
  goTo({ step = null, layer = null, dataset = null } = {}) {
    const changed = new Set();
    if (dataset && this.availableDatasets.includes(dataset)) {
      if (dataset !== this.dataset) changed.add("dataset");
      if (this.hiddenDatasets.delete(dataset)) changed.add("datasets");
      this.dataset = dataset;
    }
    if (layer && layer !== this.layer && this.availableLayers.includes(layer)) {
      this.layer = layer;
      changed.add("layer");
    }
    const steps = this.steps;
    if (step !== null && step !== undefined && Number.isFinite(step) && steps.length) {
      const snapped = stepAtOrBefore(steps, step) ?? steps[0];
      this.followLatest = snapped === steps[steps.length - 1];
      if (snapped !== this.step) {
        this.step = snapped;
        changed.add("step");
      }
    }
    if (changed.size) this.notify(changed);
    return changed;
  }

  /** Moves the checkpoint cursor to the latest checkpoint at or before `step`. */
  setStep(step) {
    const steps = this.steps;
    if (!steps.length || !Number.isFinite(step)) return;
    const snapped = stepAtOrBefore(steps, step) ?? steps[0];
    this.followLatest = snapped === steps[steps.length - 1];
    if (snapped === this.step) return;
    this.step = snapped;
    this.notify(new Set(["step"]));
  }
}
