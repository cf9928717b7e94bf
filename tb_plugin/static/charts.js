// Plotly plumbing shared by the panels: one chart div per name, drawn and updated with
// Plotly.react (never re-created on a step change), the checkpoint cursor, subplot grids and the
// one-line messages of a panel.

import { loadPlotly } from "./assets.js";
import { el, plotlyText } from "./dom.js";

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const CONFIG = {
  displaylogo: false,
  responsive: false, // a ResizeObserver below also catches the iframe being shown again
  displayModeBar: "hover",
  modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
};

const clickTargets = new WeakMap(); // chart div -> latest step callback

const resizer =
  typeof ResizeObserver === "function"
    ? new ResizeObserver((entries) => {
        // Deferred so that the resize never happens inside the observer callback.
        requestAnimationFrame(() => {
          for (const entry of entries) {
            const div = entry.target;
            if (window.Plotly && div.isConnected && div.clientWidth > 0 && div._fullLayout) {
              window.Plotly.Plots.resize(div);
            }
          }
        });
      })
    : null;

/** The chart div `name` inside `container`, created (in call order) if missing. */
export function chartDiv(container, name) {
  for (const child of container.children) {
    if (child.classList.contains("ki-chart") && child.dataset.chart === name) return child;
  }
  const div = el("div", { className: "ki-chart", attrs: { "data-chart": name } });
  container.append(div);
  if (resizer) resizer.observe(div);
  return div;
}

/** Removes (and purges) the chart divs of `container` whose names are not in `keep`. */
export function removeCharts(container, keep = []) {
  for (const child of [...container.children]) {
    if (child.classList.contains("ki-chart") && !keep.includes(child.dataset.chart)) {
      if (resizer) resizer.unobserve(child);
      if (window.Plotly) window.Plotly.purge(child);
      child.remove();
    }
  }
}

/**
 * Shows one line of text at the top of the panel body (`kind` "note" or "error"), or removes
 * that line when `text` is empty.
 */
export function setMessage(container, kind, text) {
  const cls = `ki-${kind}`;
  let line = null;
  for (const child of container.children) {
    if (child.tagName === "P" && child.classList.contains(cls)) line = child;
  }
  if (!text) {
    if (line) line.remove();
    return;
  }
  if (!line) {
    line = el("p", { className: cls });
    const firstChart = container.querySelector(":scope > .ki-chart");
    container.insertBefore(line, kind === "error" ? container.firstChild : firstChart);
  }
  line.textContent = text;
}

/** Layout defaults merged under a panel's layout (axis objects are merged one level deep). */
export function baseLayout(layout = {}) {
  // automargin costs a second layout pass per chart; only category axes (user names) need it.
  const axis = { gridcolor: "#ececec", zeroline: false, linecolor: "#bbb" };
  const merged = {
    font: { family: FONT, size: 12, color: "#222" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    margin: { l: 56, r: 16, t: 30, b: 44 },
    hovermode: "closest",
    hoverlabel: { namelength: -1 },
    showlegend: false,
    legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top", font: { size: 11 } },
    ...layout,
  };
  for (const key of Object.keys(merged)) {
    if (/^[xy]axis\d*$/.test(key)) merged[key] = { ...axis, ...merged[key] };
  }
  if (!merged.xaxis) merged.xaxis = { ...axis };
  if (!merged.yaxis) merged.yaxis = { ...axis };
  return merged;
}

/** Axis title object for a (possibly user-supplied) text. */
export function axisTitle(text) {
  return { text: plotlyText(text), standoff: 6 };
}

/**
 * A vertical dotted line at `step` in each subplot whose axis suffix is listed ("" for x/y,
 * "2" for x2/y2, ...): the checkpoint cursor.
 */
export function stepLines(step, suffixes = [""]) {
  if (step === null || step === undefined) return [];
  return suffixes.map((suffix) => ({
    type: "line",
    xref: `x${suffix}`,
    yref: `y${suffix} domain`,
    x0: step,
    x1: step,
    y0: 0,
    y1: 1,
    line: { color: "#333", width: 1.5, dash: "dot" },
    layer: "above",
  }));
}

/**
 * Axis domains and subplot titles for `titles.length` subplots in a grid of `cols` columns.
 * Returns {layout, suffixes, rows, columns}: spread `layout` into the panel's layout, give trace k
 * `xaxis: "x" + suffixes[k]`, `yaxis: "y" + suffixes[k]`. Titles are escaped here.
 */
export function subplotGrid(titles, { cols = titles.length, xGap = 0.07, yGap = 0.16, shareY = false } = {}) {
  const n = Math.max(1, titles.length);
  const columns = Math.max(1, Math.min(cols, n));
  const rows = Math.ceil(n / columns);
  // Gaps are fractions of the whole chart: with many rows they would leave no room (or a
  // negative height) for the subplots, so together they take at most half of it.
  const rowGap = rows > 1 ? Math.min(yGap, 0.5 / (rows - 1)) : 0;
  const width = (1 - xGap * (columns - 1)) / columns;
  const height = (1 - rowGap * (rows - 1)) / rows;
  const layout = { annotations: [] };
  const suffixes = [];
  for (let k = 0; k < n; k += 1) {
    const row = Math.floor(k / columns);
    const col = k % columns;
    const suffix = k === 0 ? "" : String(k + 1);
    const x0 = col * (width + xGap);
    const y1 = 1 - row * (height + rowGap);
    layout[`xaxis${suffix}`] = { domain: [x0, x0 + width], anchor: `y${suffix}` };
    layout[`yaxis${suffix}`] = { domain: [y1 - height, y1], anchor: `x${suffix}` };
    if (shareY && k > 0) layout[`yaxis${suffix}`].matches = "y";
    suffixes.push(suffix);
    if (titles[k] !== undefined && titles[k] !== null && titles.length > 1) {
      layout.annotations.push({
        text: plotlyText(titles[k]),
        xref: "paper",
        yref: "paper",
        x: x0 + width / 2,
        y: y1,
        xanchor: "center",
        yanchor: "bottom",
        showarrow: false,
        font: { size: 12, color: "#444" },
      });
    }
  }
  return { layout, suffixes, rows, columns };
}

/**
 * Draws or updates `div` with Plotly.react. Skipped (returns false) when the render cycle of
 * `ctx` has been superseded. `onStep`, when given, makes a click on a point move the checkpoint
 * cursor to that point's x. `dataKey`, when given, names everything the traces depend on: if
 * the chart was last drawn with the same key only its shapes (the checkpoint cursor) are
 * updated, which is much cheaper than a full Plotly.react of hundreds of traces.
 */
export async function draw(div, traces, layout, ctx, { onStep, dataKey } = {}) {
  const Plotly = await loadPlotly();
  if (ctx && !ctx.isCurrent()) return false;
  const started = performance.now();
  if (dataKey !== undefined && div.__kiDataKey === dataKey && div._fullLayout) {
    await Plotly.relayout(div, { shapes: layout.shapes || [] });
  } else {
    div.__kiDataKey = undefined; // unknown until this draw has finished
    await Plotly.react(div, traces, baseLayout(layout), CONFIG);
    div.__kiDataKey = dataKey;
  }
  performance.measure(`ki-draw ${div.dataset.chart}`, { start: started, end: performance.now() });
  if (onStep) {
    if (!clickTargets.has(div)) {
      div.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        const handler = clickTargets.get(div);
        if (point && handler && Number.isFinite(Number(point.x))) handler(Number(point.x));
      });
    }
    clickTargets.set(div, onStep);
  }
  return true;
}

/** Plotly trace name for a run and optional further parts ("run · dataset"), escaped. */
export function traceName(...parts) {
  return plotlyText(parts.filter((p) => p !== undefined && p !== null && p !== "").join(" · "));
}

/** Hover template showing the (escaped) trace name and the point. */
export function hover(xLabel, yLabel, yFormat = ".4g") {
  return `%{fullData.name}<br>${xLabel} %{x}<br>${yLabel} %{y:${yFormat}}<extra></extra>`;
}

/** x-axis settings for a step axis: ticks on the checkpoints when there are few of them. */
/**
 * A y axis for ROC AUCs that does not magnify noise: from chance (0.5), or lower in tenths
 * when a value is below it, to just above 1, whatever the spread of the values. A drift of
 * 0.0002 between 0.9998 and 1.0 stays a flat line at the top, as it should.
 */
export function aucAxis(title, traces) {
  const values = traces.flatMap((t) => t.y || []).filter((v) => Number.isFinite(v));
  const low = values.length ? Math.min(0.5, Math.floor(Math.min(...values) * 10) / 10) : 0.5;
  return { title: axisTitle(title), range: [Math.max(0, low), 1.02], automargin: true };
}

export function stepAxis(steps = []) {
  const axis = { title: axisTitle("step") };
  if (steps.length > 0 && steps.length <= 12) {
    axis.tickmode = "array";
    axis.tickvals = steps;
  }
  return axis;
}
