// Colour scheme, shared by every panel (one meaning per visual channel across the tab):
//   * colour = run, when several runs are selected. Each run gets one colour for the whole
//     session, from a 10-colour palette, chosen by a hash of its name (so a run keeps its colour
//     when other runs are added); when two runs hash to the same slot the later one takes the
//     next free slot, until the palette is exhausted. The selector swatch shows the same colour.
//   * colour = dataset, when one run is selected: there is no run to tell apart, and nine
//     datasets in one colour cannot be read. The dataset chips then show each dataset's colour.
//   * line style = dataset. Datasets are told apart by dash style and marker symbol together
//     (lines) or by fill opacity (bars). Styles go to the datasets shown, each keeping its
//     style while shown (Selection.styleIndex); `train` is always solid with circles. Six dashes
//     and eight symbols give 24 pairwise distinct (dash, symbol) pairs: when more datasets than
//     dashes are shown in run colours, markers are drawn on every line (thinned on long ones) to
//     keep the seventh dataset apart from the first (needsSymbols). Otherwise lines of more than
//     60 points go without markers: thousands of marker nodes cost Plotly seconds.
//   * any further axis (layer, class, metric) is split into subplots, never encoded in colour.

export const PALETTE = [
  "#1f77b4", // blue
  "#d62728", // red
  "#2ca02c", // green
  "#ff7f0e", // orange
  "#9467bd", // purple
  "#17becf", // cyan
  "#8c564b", // brown
  "#e377c2", // pink
  "#b59a00", // dark yellow
  "#393b79", // indigo
];

const DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
const SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "pentagon"];
const OPACITIES = [1, 0.45, 0.75, 0.25, 0.9, 0.6, 0.35, 0.8];

/** 32-bit FNV-1a hash of a string (over UTF-16 code units). */
export function hashName(name) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i += 1) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const assigned = new Map(); // run name -> palette index, for the whole session

/**
 * Gives colours to runs not seen before, in the order given (pass them sorted so the first
 * session with a given set of runs is deterministic). Runs already coloured keep their colour.
 */
export function assignRunColors(runNames) {
  const used = new Set(assigned.values());
  for (const name of runNames) {
    if (assigned.has(name)) continue;
    const home = hashName(name) % PALETTE.length;
    let slot = home;
    if (used.size < PALETTE.length) {
      while (used.has(slot)) slot = (slot + 1) % PALETTE.length;
    }
    assigned.set(name, slot);
    used.add(slot);
  }
}

/** The colour of a run (assigning one on first use). */
export function runColor(name) {
  if (!assigned.has(name)) assignRunColors([name]);
  return PALETTE[assigned.get(name)];
}

/**
 * Line and bar styles for the dataset in style slot `index` (Selection.styleIndex):
 * {dash, symbol, opacity}. Slots below 24 give pairwise distinct (dash, symbol) pairs.
 */
export function datasetStyle(index) {
  const i = Math.max(0, index);
  return {
    dash: DASHES[i % DASHES.length],
    symbol: SYMBOLS[i % SYMBOLS.length],
    opacity: OPACITIES[i % OPACITIES.length],
  };
}

/** The colour of the dataset in style slot `index` (used when one run is selected). */
export function datasetColor(index) {
  return PALETTE[Math.max(0, index) % PALETTE.length];
}

/**
 * The whole style of the trace of (`run`, the dataset in style slot `slot`): {color, dash,
 * symbol, opacity}. `byDataset`: colour by dataset (one run selected) instead of by run; bars
 * then keep full opacity, as the colour already tells datasets apart.
 */
export function traceStyle(run, slot, byDataset) {
  const style = datasetStyle(slot);
  if (byDataset) return { ...style, color: datasetColor(slot), opacity: 0.85 };
  return { ...style, color: runColor(run) };
}

// Markers drawn at most on a line (evenly thinned beyond): enough to read the symbol.
export const MAX_MARKERS = 40;
// A line of more points than this is drawn without markers unless symbols are needed.
export const MARKER_POINTS = 60;

/**
 * Whether line traces need their marker symbols to be told apart: `shown` datasets drawn in
 * run colours (`byDataset` false) outnumber the dash styles.
 */
export function needsSymbols(shown, byDataset) {
  return !byDataset && shown > DASHES.length;
}

/** SVG stroke-dasharray for a Plotly dash name, for the little key drawn in the selectors. */
export function dashArray(dash) {
  return {
    solid: "",
    dash: "6 4",
    dot: "2 3",
    dashdot: "6 3 2 3",
    longdash: "10 4",
    longdashdot: "10 3 2 3",
  }[dash] || "";
}
