// The small tools in every panel's header: "what is this?" (opens the definition of the panel's
// quantity, from definitions.js, with its paper) and the download of what the panel draws, as
// CSV or JSON (export.js turns the drawn Plotly traces, or a panel's table, into rows). Both
// modules are imported on the first click, not with the tab: they are not needed to draw it,
// and every module fetched before the first render delays it.

import { el } from "./dom.js";

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

/** What `body` shows, as rows: its charts' traces (export.js), else its tables. */
export function bodyRows(body, { chartsOf, panelRows }) {
  const rows = panelRows(chartsOf(body));
  return rows.length ? rows : tableRows(body);
}

/**
 * The tool row of a panel header and the definition paragraph it opens. `state()` returns the
 * selection's snapshot ({step, layer, dataset, ...}) at the time of a download, for the file
 * name and the JSON's header. Returns {tools, definition} (elements to place in the header).
 */
export function panelTools(panel, body, state) {
  const definition = el("p", { className: "ki-definition", attrs: { "data-definition": panel.id } });
  definition.hidden = true;
  const status = el("span", { className: "ki-tool-status", attrs: { role: "status" } });
  const button = (text, title, onClick) => {
    const b = el("button", { className: "ki-tool", text, attrs: { type: "button", title, "aria-label": title } });
    b.addEventListener("click", () => onClick(b).catch((error) => (status.textContent = String(error && error.message ? error.message : error))));
    return b;
  };
  const save = async (format) => {
    const exporter = await import("./export.js");
    const rows = bodyRows(body, exporter);
    const now = state();
    if (!rows.length) {
      status.textContent = "nothing drawn yet";
      return;
    }
    status.textContent = "";
    if (format === "csv") exporter.download(exporter.toCsv(rows), exporter.fileName(panel.id, now, "csv"), "text/csv");
    else exporter.download(exporter.toJson(panel.id, rows, { state: now }), exporter.fileName(panel.id, now, "json"), "application/json");
  };
  const info = button("?", `What is "${panel.title}"? (definition and source)`, async (b) => {
    if (!definition.textContent) {
      const { definitionOf } = await import("./definitions.js");
      const entry = definitionOf(panel.id);
      definition.textContent = entry ? entry.text : "No definition is written for this panel yet.";
    }
    definition.hidden = !definition.hidden;
    b.setAttribute("aria-expanded", String(!definition.hidden));
  });
  info.setAttribute("aria-expanded", "false");
  const tools = el("div", {
    className: "ki-tools",
    children: [
      status,
      info,
      button("CSV", `Download what "${panel.title}" shows as CSV`, () => save("csv")),
      button("JSON", `Download what "${panel.title}" shows as JSON`, () => save("json")),
    ],
  });
  return { tools, definition };
}
