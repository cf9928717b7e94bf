// The model at a glance (TSViz level 1, CNNSlicer's layer query): every layer in call order with
// its type, output shape and parameter count, and what was recorded for it. Clicking an
// inspected layer selects it in every panel. First selected run that has the overview.

import { removeCharts, setMessage } from "../charts.js";
import { el, errorText } from "../dom.js";
import { joinNotes } from "../panel_kit.js";

const QUANTITY = "model_layers";

/**
 * Table rows from /values cells of model_layers (value [position, parameters, *shape]) and a
 * run's quantity_layers: [{layer, type, position, params, shape, quantities}] in call order.
 */
export function overviewRows(cells, quantityLayers = {}) {
  const recorded = new Map();
  for (const [quantity, layers] of Object.entries(quantityLayers)) {
    if (quantity === QUANTITY) continue;
    for (const layer of layers) {
      if (!recorded.has(layer)) recorded.set(layer, []);
      recorded.get(layer).push(quantity);
    }
  }
  return cells
    .map((c) => {
      const [position, params, ...shape] = c.values;
      return {
        layer: c.layer,
        type: (c.extra && c.extra.type) || "",
        position,
        params,
        shape,
        quantities: (recorded.get(c.layer) || []).sort(),
      };
    })
    .sort((a, b) => a.position - b.position);
}

/**
 * Rows for display: consecutive layers that were not inspected and share a type are folded into
 * one row ({..., count, last}), so 34 embeddings take one line, not 34.
 */
export function foldRows(rows) {
  const out = [];
  for (const row of rows) {
    const previous = out[out.length - 1];
    if (previous && !row.quantities.length && !previous.quantities.length && previous.type === row.type) {
      previous.count += 1;
      previous.last = row;
      previous.params += row.params;
      if (shapeText(previous.shape) !== shapeText(row.shape)) previous.shape = null;
    } else {
      out.push({ ...row, count: 1, last: row });
    }
  }
  return out;
}

/** "(8, 8, 16)" for a shape, with "?" for a dimension unknown until the model is called. */
export function shapeText(shape) {
  if (shape === null) return "various";
  return shape.length ? `(${shape.map((d) => (d < 0 ? "?" : String(d))).join(", ")})` : "?";
}

function table(rows, current, onPick) {
  const head = el("tr", { children: ["#", "layer", "type", "output shape", "parameters", "recorded"].map((t) => el("th", { text: t })) });
  const body = foldRows(rows).map((row) => {
    const inspected = row.quantities.length > 0;
    const folded = row.count > 1;
    const name = inspected
      ? el("button", { className: "ki-layer-link", text: row.layer, attrs: { type: "button", "data-layer": row.layer, title: "Select this layer in every panel" } })
      : el("span", { text: folded ? `${row.layer} … ${row.last.layer} (${row.count} layers)` : row.layer });
    if (inspected) name.addEventListener("click", () => onPick(row.layer));
    return el("tr", {
      className: row.layer === current ? "ki-current" : inspected ? "" : "ki-muted",
      attrs: { "data-layer": row.layer },
      children: [
        el("td", { text: folded ? `${row.position}–${row.last.position}` : String(row.position) }),
        el("td", { children: [name] }),
        el("td", { text: row.type }),
        el("td", { text: shapeText(row.shape) }),
        el("td", { className: "ki-num", text: Math.round(row.params).toLocaleString("en-US") }),
        el("td", { className: "ki-recorded", text: inspected ? `${row.quantities.length}: ${row.quantities.join(", ")}` : "not inspected" }),
      ],
    });
  });
  const tableEl = el("table", { className: "ki-overview", children: [el("thead", { children: [head] }), el("tbody", { children: body })] });
  return el("div", { className: "ki-overview-scroll", children: [tableEl] });
}

export default {
  id: "overview",
  title: "Model overview",
  description: "Every layer in call order: type, output shape, parameters and what was recorded for it (TSViz level 1). Click an inspected layer to select it in every panel.",
  quantities: [QUANTITY],
  wide: true,
  hint: "No selected run has the model overview (model_layers, written with a run's first checkpoint).",

  async render(container, ctx) {
    const run = ctx.runs.find((r) => r.quantities.includes(QUANTITY));
    let answer = null;
    let error = null;
    try {
      answer = await ctx.model.fetchValues(run.run, QUANTITY, run.steps[run.steps.length - 1]);
    } catch (caught) {
      error = caught;
    }
    if (!ctx.isCurrent()) return;
    removeCharts(container);
    container.querySelector(":scope > .ki-overview-scroll")?.remove();
    if (error) {
      setMessage(container, "error", `Could not load the model overview of ${run.run}: ${errorText(error)}`);
      return;
    }
    const rows = overviewRows(answer.cells || [], run.quantityLayers);
    container.append(table(rows, ctx.state.layer, (layer) => ctx.setLayer(layer)));
    setMessage(
      container,
      "note",
      joinNotes(`${run.run}: ${rows.length} layers`, ctx.runs.length > 1 ? "first selected run" : ""),
    );
  },
};
