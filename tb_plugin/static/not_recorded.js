// The line that stands for the panels no selected run has data for.

import { el } from "./dom.js";
import { panelHint } from "./registry.js";

/**
 * The last card of the grid: the panels that no selected run has data for, folded into one
 * line ("Not recorded: A, B, C") that opens to say, per panel, what would fill it.
 */
export function notRecordedSection() {
  const summary = el("summary");
  const list = el("ul", { className: "ki-missing-list" });
  const details = el("details", { children: [summary, list] });
  const section = el("section", {
    className: "ki-panel ki-wide ki-missing",
    attrs: { "data-panel": "not_recorded", "data-ki-state": "drawn" }, // nothing to draw
    children: [details],
  });
  return {
    section,
    show(panels, anyRun) {
      section.hidden = panels.length === 0;
      if (!anyRun) {
        summary.textContent = "No run selected: tick one under Runs to see its panels.";
        list.replaceChildren();
        return;
      }
      summary.textContent = `Not recorded for the selected runs (${panels.length}): ${panels.map((p) => p.title).join(", ")}`;
      list.replaceChildren(
        ...panels.map((panel) =>
          el("li", { attrs: { "data-panel": panel.id }, children: [el("strong", { text: panel.title }), ` ${panelHint(panel)}`] }),
        ),
      );
    },
  };
}
