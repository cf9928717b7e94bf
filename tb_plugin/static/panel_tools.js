// The small tools in every panel's header: "what is this?" (opens the definition of the panel's
// quantity, from definitions.js, with its paper) and the download of what the panel draws, as
// CSV or JSON (export.js turns the drawn Plotly traces, or a panel's table, into rows).

import { definitionOf } from "./definitions.js";
import { el } from "./dom.js";
import { chartsOf, download, fileName, panelRows, toCsv, toJson } from "./export.js";

/**
 * Rows of the HTML tables in `container` (the model overview is a table, not a chart): one
 * object per body row, keyed by the header cells' text.
 */
export function tableRows(container) {
  const rows = [];
  for (const table of container.querySelectorAll("table")) {
    const keys = [...table.querySelectorAll("thead th")].map((th, i) => th.textContent.trim() || `column_${i + 1}`);
    for (const tr of table.querySelectorAll("tbody tr")) {
      const row = {};
      [...tr.children].forEach((cell, i) => {
        row[keys[i] || `column_${i + 1}`] = cell.textContent.trim();
      });
      rows.push(row);
    }
  }
  return rows;
}

/** What `body` shows, as rows: its charts' traces, else its tables. */
export function bodyRows(body) {
  const rows = panelRows(chartsOf(body));
  return rows.length ? rows : tableRows(body);
}

/**
 * The tool row of a panel header and the definition paragraph it opens. `state()` returns the
 * selection's snapshot ({step, layer, dataset, ...}) at the time of a download, for the file
 * name and the JSON's header. Returns {tools, definition} (elements to place in the header).
 */
export function panelTools(panel, body, state) {
  const entry = definitionOf(panel.id);
  const definition = el("p", { className: "ki-definition", attrs: { "data-definition": panel.id } });
  definition.hidden = true;
  if (entry) definition.textContent = entry.text;
  const button = (text, title, onClick) => {
    const b = el("button", { className: "ki-tool", text, attrs: { type: "button", title, "aria-label": title } });
    b.addEventListener("click", onClick);
    return b;
  };
  const save = (format) => {
    const rows = bodyRows(body);
    const now = state();
    if (!rows.length) {
      status.textContent = "nothing drawn yet";
      return;
    }
    status.textContent = "";
    if (format === "csv") download(toCsv(rows), fileName(panel.id, now, "csv"), "text/csv");
    else download(toJson(panel.id, rows, { state: now }), fileName(panel.id, now, "json"), "application/json");
  };
  const status = el("span", { className: "ki-tool-status", attrs: { role: "status" } });
  const info = entry
    ? button("?", `What is "${panel.title}"? (definition and source)`, () => {
        definition.hidden = !definition.hidden;
        info.setAttribute("aria-expanded", String(!definition.hidden));
      })
    : null;
  if (info) info.setAttribute("aria-expanded", "false");
  const tools = el("div", {
    className: "ki-tools",
    children: [status, info, button("CSV", `Download what "${panel.title}" shows as CSV`, () => save("csv")), button("JSON", `Download what "${panel.title}" shows as JSON`, () => save("json"))],
  });
  return { tools, definition };
}
