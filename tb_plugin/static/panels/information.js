// CNNSlicer (Shen et al.), Figs. 6 and 7: how uncertain a classifier is per class over training
// and where its mistakes go. Left: H(label | pred = i), one line per predicted class (high:
// what is predicted as i is a mix of true classes; a class never predicted has no value, a
// gap); middle: H(pred | label = i), one line per true class. Right: the confusion matrix at the
// chosen checkpoint. First selected run that has them, focus dataset.

import { axisTitle, chartDiv, draw, removeCharts, setMessage, stepLines, stepAxis, subplotGrid } from "../charts.js";
import { PALETTE } from "../colors.js";
import { plotlyText } from "../dom.js";
import { allFailed, checkpointFor, joinNotes, stepChoices, withStepChoices } from "../panel_kit.js";

const GIVEN_PRED = "entropy_label_given_pred";
const GIVEN_LABEL = "entropy_pred_given_label";
const CONFUSION = "confusion_matrix";

/** Per class (sorted numerically), its steps and values, from /scalars series with a class axis. */
export function byClass(series, dataset) {
  const out = new Map();
  for (const s of series || []) {
    const cls = s.extra && s.extra.class;
    if (s.dataset !== dataset || cls === undefined) continue;
    out.set(cls, { steps: s.steps, values: s.values });
  }
  return new Map([...out.entries()].sort((a, b) => Number(a[0]) - Number(b[0]) || String(a[0]).localeCompare(String(b[0]))));
}

function lines(classes, suffix, what, legend) {
  return [...classes.entries()].map(([cls, s], k) => ({
    legendgroup: `class ${cls}`,
    showlegend: legend, // one legend entry per class for both charts
    type: "scatter",
    mode: s.steps.length <= 60 ? "lines+markers" : "lines",
    x: s.steps,
    y: s.values,
    name: plotlyText(`class ${cls}`),
    meta: { class: cls, quantity: what },
    connectgaps: false,
    xaxis: `x${suffix}`,
    yaxis: `y${suffix}`,
    line: { color: PALETTE[k % PALETTE.length], width: 1.5 },
    marker: { color: PALETTE[k % PALETTE.length], size: 4 },
    hovertemplate: `class ${plotlyText(cls)} · step %{x}<br>%{y:.3f} bits<extra></extra>`,
  }));
}

export default {
  id: "information",
  title: "Prediction entropy and confusion",
  description: "Per class, over training (CNNSlicer Figs. 6-7): H(label | pred = i), high when what is predicted as i mixes true classes; H(pred | label = i), high when class i's predictions scatter; and the confusion matrix at the chosen checkpoint (rows: true class).",
  quantities: [GIVEN_PRED, GIVEN_LABEL, CONFUSION],
  wide: true,
  pair: true,
  hint: "No selected run recorded the prediction entropies; use quantities=\"full\" on a classifier to see this panel.",

  async render(container, ctx) {
    const dataset = ctx.state.dataset;
    const run = ctx.runs.find((r) => r.quantities.includes(GIVEN_PRED) || r.quantities.includes(CONFUSION));
    let entropies = [];
    let matrix = null;
    let failed = [];
    try {
      const wanted = [GIVEN_PRED, GIVEN_LABEL].filter((q) => run.quantities.includes(q));
      entropies = await Promise.all(wanted.map((q) => ctx.model.fetchScalars(run.run, q, { datasets: [dataset] }).then((a) => ({ q, a }))));
      if (run.quantities.includes(CONFUSION)) {
        const companion = run.quantities.includes(GIVEN_LABEL) ? GIVEN_LABEL : "model_auc";
        const step = await checkpointFor(ctx, run, companion, { dataset });
        if (step !== null) matrix = await ctx.model.fetchValues(run.run, CONFUSION, step, { dataset });
      }
    } catch (error) {
      failed = [{ run: run.run, error }];
    }
    if (!ctx.isCurrent()) return;
    const series = new Map(entropies.map(({ q, a }) => [q, byClass(a.series, dataset)]));
    const cell = matrix && (matrix.cells || []).find((c) => c.dataset === dataset);
    const have = [...series.values()].some((m) => m.size) || Boolean(cell);
    if (allFailed(container, have ? 1 : 0, failed, `No prediction entropies on dataset "${dataset}".`)) return;
    const keep = [];
    const draws = [];
    const panels = [
      [GIVEN_PRED, "H(label | pred = i)"],
      [GIVEN_LABEL, "H(pred | label = i)"],
    ].filter(([q]) => series.get(q) && series.get(q).size);
    if (panels.length) {
      keep.push("entropy_lines");
      const grid = subplotGrid(panels.map(([, title]) => title), { cols: panels.length, xGap: 0.1 });
      const traces = panels.flatMap(([q], k) => lines(series.get(q), grid.suffixes[k], q, k === 0));
      const layout = { ...grid.layout, shapes: stepLines(ctx.state.step, grid.suffixes), showlegend: true, margin: { l: 56, r: 10, t: 30, b: 44 } };
      grid.suffixes.forEach((suffix, k) => {
        Object.assign(layout[`xaxis${suffix}`], stepAxis(ctx.steps));
        layout[`yaxis${suffix}`].rangemode = "tozero";
        if (k === 0) layout[`yaxis${suffix}`].title = axisTitle("bits");
      });
      const div = chartDiv(container, "entropy_lines");
      div.style.height = "380px";
      const drawn = withStepChoices(traces, layout, stepChoices(container, ctx));
      draws.push(draw(div, drawn, layout, ctx, { onStep: (step) => ctx.setStep(step) }));
    }
    if (cell) {
      keep.push(CONFUSION);
      const n = cell.values.length;
      const labels = Array.from({ length: n }, (_, i) => String(i));
      const traces = [
        {
          type: "heatmap",
          x: labels,
          y: labels,
          z: cell.values,
          colorscale: [
            [0, "#f7fbff"],
            [1, "#08306b"],
          ],
          colorbar: { thickness: 12, len: 0.9, title: { text: "count", side: "right" } },
          meta: { run: run.run, dataset, step: matrix.step },
          hovertemplate: "true %{y} → predicted %{x}<br>%{z} samples<extra></extra>",
        },
      ];
      const layout = {
        xaxis: { title: axisTitle("predicted class"), type: "category", showgrid: false, constrain: "domain" },
        yaxis: { title: axisTitle("true class"), type: "category", autorange: "reversed", scaleanchor: "x", showgrid: false, constrain: "domain" },
        margin: { l: 56, r: 10, t: 12, b: 44 },
      };
      const div = chartDiv(container, CONFUSION);
      div.classList.add("ki-chart-square");
      draws.push(draw(div, traces, layout, ctx));
    }
    removeCharts(container, keep);
    setMessage(
      container,
      "note",
      joinNotes(`${run.run} · ${dataset}`, cell ? `confusion at step ${matrix.step}` : "", ctx.runs.length > 1 ? "first selected run with them" : ""),
    );
    await Promise.all(draws);
  },
};
