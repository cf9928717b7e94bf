// Fig. 2 of Guo et al.: distribution of the predicted score at the chosen checkpoint, split by
// label: one subplot per class (binary labels: class "1" = clicked / positive first, then "0"),
// one step line per (run, dataset) drawn from the (bins, 3) [left edge, right edge, density]
// histogram.

import { axisTitle, chartDiv, draw, setMessage, subplotGrid } from "../charts.js";
import { allFailed, allRegression, checkpointFor, failureText, joinNotes, lineTrace, perRun, runWindow } from "../panel_kit.js";

const QUANTITY = "model_score_histogram";
const stepCache = new WeakMap();
// Histograms of more runs than this overlap into noise: the first ones are drawn.
export const MAX_RUNS = 4;

/** Step-line coordinates (x: edges, y: density) of a (bins, 3) histogram cell, memoised. */
export function histogramLine(cell) {
  if (!stepCache.has(cell)) {
    const rows = Array.isArray(cell.values) ? cell.values : [];
    const x = [];
    const y = [];
    for (const row of rows) {
      x.push(row[0]);
      y.push(row[2]);
    }
    if (rows.length) {
      x.push(rows[rows.length - 1][1]);
      y.push(rows[rows.length - 1][2]);
    }
    stepCache.set(cell, { x, y });
  }
  return stepCache.get(cell);
}

/**
 * Class order: with binary labels positives ("1") first, then negatives ("0"); otherwise in
 * natural order ("2" before "10"). Unlabelled samples ("all") always last.
 */
export function classOrder(classes) {
  const list = [...classes];
  const binary = list.every((c) => c === "0" || c === "1" || c === "all");
  const rank = (c) => (c === "all" ? 2 : binary && c === "1" ? 0 : 1);
  const natural = new Intl.Collator(undefined, { numeric: true });
  return list.sort((a, b) => rank(a) - rank(b) || natural.compare(a, b));
}

/**
 * Subplot title of a class; "positive" / "negative" only when every label is binary. A
 * regression run's histogram is of all samples (its labels are values, not classes).
 */
export function classTitle(cls, classes, regression = false) {
  const binary = classes.every((c) => c === "0" || c === "1" || c === "all");
  if (binary && cls === "1") return "class 1 (positive / clicked)";
  if (binary && cls === "0") return "class 0 (negative)";
  if (cls === "all") return regression ? "all samples" : "all samples (no labels)";
  return `class ${cls}`;
}

/** Columns of the grid of class subplots: up to five a row (ten digits: two rows). */
export function classColumns(count) {
  return Math.max(1, Math.min(count, 5));
}

// Height of one row of subplots (taller when they are few) and the gap between rows, in pixels.
const ROW_PX = 300;
const SMALL_ROW_PX = 220;
const GAP_PX = 70;

export default {
  id: "score_hist",
  title: "Score distribution by label",
  description: "Histogram of the predicted score at the chosen checkpoint, per label and dataset (Guo et al., Fig. 2).",
  quantities: [QUANTITY],
  wide: true,
  titleFor: (runs) => (allRegression(runs) ? "Predicted value distribution" : null),
  describeFor: (runs) =>
    allRegression(runs) ? "Histogram of the model's predicted values at the chosen checkpoint, per dataset (a regression run: no classes to split by)." : null,

  async render(container, ctx) {
    const withData = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    const runs = runWindow(container, ctx, withData, MAX_RUNS);
    const missing = [];
    const { ok, failed } = await perRun(runs, async (run) => {
      const step = await checkpointFor(ctx, run, "model_auc");
      if (step === null) {
        missing.push(run.run);
        return undefined;
      }
      return ctx.model.fetchValues(run.run, QUANTITY, step);
    });
    if (!ctx.isCurrent()) return;
    const missingText = missing.length ? `${missing.length} run(s) have no score histogram at or before step ${ctx.state.step}` : "";
    if (allFailed(container, ok.length, failed, missingText)) return;

    const shown = new Set(ctx.state.datasets);
    const cells = [];
    for (const { run, value } of ok) {
      for (const cell of value.cells || []) {
        if (shown.has(cell.dataset)) cells.push({ run: run.run, cell, step: value.step });
      }
    }
    const classes = classOrder(new Set(cells.map(({ cell }) => (cell.extra && cell.extra.class) || "all")));
    const regression = allRegression(ctx.runs);
    const cols = classColumns(classes.length);
    const rows = Math.ceil(classes.length / cols);
    const height = Math.max(1, rows) * (classes.length > 2 ? SMALL_ROW_PX : ROW_PX);
    const grid = subplotGrid(
      classes.map((cls) => classTitle(cls, classes, regression)),
      { cols, yGap: GAP_PX / height },
    );
    const traces = [];
    classes.forEach((cls, k) => {
      for (const { run, cell } of cells) {
        if (((cell.extra && cell.extra.class) || "all") !== cls) continue;
        const { x, y } = histogramLine(cell);
        const trace = lineTrace(ctx, {
          run,
          dataset: cell.dataset,
          label: `${cell.dataset} · class ${cls}`,
          x,
          y,
          suffix: grid.suffixes[k],
          xLabel: "score",
          yLabel: "density",
          extra: { class: cls },
        });
        trace.mode = "lines";
        trace.line.shape = "hv";
        traces.push(trace);
      }
    });
    const usedSteps = [...new Set(ok.map(({ value }) => value.step))];
    setMessage(
      container,
      "note",
      joinNotes(
        failureText(failed),
        missingText,
        traces.length ? "" : "None of the shown datasets has score histograms.",
        usedSteps.length === 1 ? `checkpoint ${usedSteps[0]}` : `checkpoints ${usedSteps.join(", ")}`,
      ),
    );
    const div = chartDiv(container, "score_hist");
    div.style.height = `${height}px`;
    const layout = { ...grid.layout, margin: { l: 60, r: 16, t: classes.length > 1 ? 30 : 16, b: 44 } };
    grid.suffixes.forEach((suffix, k) => {
      layout[`xaxis${suffix}`].title = axisTitle(regression ? "predicted value" : "predicted score");
      if (k > 0) layout[`xaxis${suffix}`].matches = "x"; // same score range in every class
      if (k % grid.columns === 0) layout[`yaxis${suffix}`].title = axisTitle("density");
    });
    await draw(div, traces, layout, ctx);
  },
};
