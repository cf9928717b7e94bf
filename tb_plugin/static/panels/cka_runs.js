// Layer correspondence (Kornblith et al. 2019, Fig. 5-style): linear CKA between every layer of
// one run (rows) and every layer of another (columns) at the chosen checkpoint, from /cka. Two
// selected runs by default (a "rows" / "columns" choice picks the pair when more are selected,
// or a run against itself); one run is compared with itself. Runs recorded on different rows
// cannot be compared: the server refuses, and the refusal is shown instead of a heatmap.

import { axisTitle, chartDiv, draw, removeCharts, setMessage } from "../charts.js";
import { errorText, plotlyText } from "../dom.js";
import { dropChoice, joinNotes, panelChoice } from "../panel_kit.js";

const QUANTITY = "cka_gram";
// White (0) to dark blue (1): CKA is a similarity in [0, 1].
const SEQUENTIAL = [
  [0, "#f7fbff"],
  [0.25, "#c6dbef"],
  [0.5, "#6baed6"],
  [0.75, "#2171b5"],
  [1, "#08306b"],
];
// Up to this many layers a side, every cell shows its value.
const CELL_TEXT = 12;

/** The pair of runs to compare, from the panel's choices (with one run: the run with itself). */
function chosenPair(container, ctx, runs) {
  if (runs.length < 2) {
    dropChoice(container, "rows");
    dropChoice(container, "columns");
    return [runs[0], runs[0]];
  }
  const options = runs.map((r) => ({ value: r.run, text: r.run }));
  const redraw = () => {
    if (ctx.isCurrent() && ctx.redraw) ctx.redraw();
  };
  const rows = panelChoice(container, "rows", "rows", options, redraw, runs[0].run);
  const columns = panelChoice(container, "columns", "columns", options, redraw, runs[1].run);
  const byName = (name) => runs.find((r) => r.run === name) || runs[0];
  return [byName(rows), byName(columns)];
}

/** The heatmap trace and layout of a /cka answer. */
export function ckaFigure(answer) {
  const [rowLayers, columnLayers] = answer.layers;
  const small = rowLayers.length <= CELL_TEXT && columnLayers.length <= CELL_TEXT;
  const trace = {
    type: "heatmap",
    z: answer.matrix,
    x: columnLayers.map(plotlyText),
    y: rowLayers.map(plotlyText),
    zmin: 0,
    zmax: 1,
    colorscale: SEQUENTIAL,
    colorbar: { thickness: 12, len: 0.9, title: { text: "CKA", side: "right" } },
    meta: { runs: answer.runs, steps: answer.steps, layers: answer.layers },
    hovertemplate: "row %{y}<br>column %{x}<br>CKA %{z:.3f}<extra></extra>",
    xgap: 1,
    ygap: 1,
  };
  if (small) {
    trace.texttemplate = "%{z:.2f}";
    trace.textfont = { size: 10 };
  }
  const [a, b] = answer.runs;
  const [sa, sb] = answer.steps;
  const layout = {
    xaxis: { title: axisTitle(`${b} · step ${sb}`), type: "category", automargin: true, showgrid: false, constrain: "domain", tickangle: columnLayers.length > 6 ? -40 : 0 },
    yaxis: { title: axisTitle(`${a} · step ${sa}`), type: "category", automargin: true, showgrid: false, autorange: "reversed", scaleanchor: "x", constrain: "domain" },
    margin: { l: 60, r: 10, t: 12, b: 50 },
  };
  return { trace, layout };
}

export default {
  id: "cka_runs",
  title: "Layer correspondence: CKA between runs",
  description:
    "Linear CKA between every layer of one run (rows) and every layer of another (columns) at the chosen checkpoint, on the same rows: a dark cell pairs layers that represent the data alike; one run is shown against itself.",
  quantities: [QUANTITY],
  wide: true, // its refusal sentence in full; never a half row placed beside the loss

  async render(container, ctx) {
    const runs = ctx.runs.filter((r) => r.quantities.includes(QUANTITY));
    const [a, b] = chosenPair(container, ctx, runs);
    if (ctx.stepFor(a) === null || ctx.stepFor(b) === null) {
      removeCharts(container);
      setMessage(container, "refused", "");
      setMessage(container, "note", `No checkpoint at or before step ${ctx.state.step} for ${ctx.stepFor(a) === null ? a.run : b.run}.`);
      return;
    }
    let answer;
    try {
      answer = await ctx.model.fetchCka(a.run, b.run, ctx.state.step);
    } catch (error) {
      if (!ctx.isCurrent()) return;
      removeCharts(container);
      setMessage(container, "refused", "");
      setMessage(container, "note", "");
      setMessage(container, "error", `Could not compare ${a.run} and ${b.run}: ${errorText(error)}`);
      return;
    }
    if (!ctx.isCurrent()) return;
    if (answer.refused) {
      removeCharts(container); // never a heatmap of rows that do not match
      setMessage(container, "note", "");
      setMessage(container, "refused", answer.refused);
      return;
    }
    setMessage(container, "refused", "");
    const { trace, layout } = ckaFigure(answer);
    const same = answer.runs[0] === answer.runs[1];
    setMessage(
      container,
      "note",
      joinNotes(same ? `${answer.runs[0]} against itself` : "", `${answer.rows} rows of ${answer.datasets[0]}`, answer.steps[0] === answer.steps[1] ? `step ${answer.steps[0]}` : `steps ${answer.steps[0]} / ${answer.steps[1]}`),
    );
    const div = chartDiv(container, "cka_matrix");
    div.classList.add("ki-chart-square");
    await draw(div, [trace], layout, ctx);
  },
};
