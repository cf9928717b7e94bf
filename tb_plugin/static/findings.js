// The findings list at the top of the tab: the diagnoses of /findings (over-fitting, dead units,
// drift, ...) of the selected runs, one line each, most severe first. Clicking one (a button:
// Enter and Space work too) moves the checkpoint, layer and focus dataset to where it holds and
// brings the panel that shows it into view (the dashboard does that: onPick).
//
// Render contract (browser tests): the list is section#ki-findings; each finding is a
// button.ki-finding with data-run, data-kind, data-severity, data-step, data-layer and
// data-dataset; data-ki-state on the section is "loading", "drawn" or "error" and
// data-ki-version the dashboard's data version of the findings shown.

import { el, errorText } from "./dom.js";
import { perRun } from "./panel_kit.js";

export const SEVERITIES = ["alert", "warning", "info"];

// Lines shown before "show all" (shared between the runs listed); fewer in a short window, so
// that the first charts stay on the first screen (1280 x 800: the loss beside the model AUC).
export const FOLDED_LINES = 6;
export const FOLDED_LINES_SHORT = 4;
const SHORT_WINDOW = 800; // px of the plugin's frame

/** The lines of the folded list for a window `height` px high. */
export function foldedLines(height) {
  return height > 0 && height < SHORT_WINDOW ? FOLDED_LINES_SHORT : FOLDED_LINES;
}

const KIND_TEXT = {
  overfitting: "over-fitting",
  memorisation: "memorisation",
  dead_units: "dead units",
  drift: "drift",
  redundant_layer: "redundant layer",
  non_finite: "non-finite values",
  representation_frozen: "representation frozen",
  representation_unstable: "representation unstable",
};

// The panels that show each kind of finding, best first (the first one on the page is used).
const TARGETS = {
  overfitting: ["model_auc", "loss"],
  memorisation: ["saliency"],
  dead_units: ["dead_units"],
  drift: ["layer_std", "model_auc"],
  redundant_layer: ["probes", "cka_runs"],
  non_finite: ["overview", "loss"], // no panel draws nonfinite_rows: the model overview, else the loss
  representation_frozen: ["cka_steps"],
  representation_unstable: ["cka_steps"],
};

/** The readable name of a finding's kind ("dead units" for dead_units). */
export function kindText(kind) {
  return KIND_TEXT[kind] || String(kind).replace(/_/g, " ");
}

/**
 * The panel ids that show a finding of `kind` for run `runInfo`, best first: over-fitting of a
 * run without model AUC (a regression) is read on its loss.
 */
export function targetPanels(kind, runInfo = null) {
  const targets = TARGETS[kind] || [];
  if (kind === "overfitting" && runInfo && !(runInfo.quantities || []).includes("model_auc")) return ["loss"];
  return targets;
}

/** "2 alerts · 1 warning · 3 info" for a list of findings ("" for none). */
export function countText(findings) {
  const counts = new Map(SEVERITIES.map((s) => [s, 0]));
  for (const f of findings) counts.set(f.severity, (counts.get(f.severity) || 0) + 1);
  const parts = [];
  for (const [severity, n] of counts) {
    if (!n) continue;
    parts.push(severity === "info" ? `${n} info` : `${n} ${severity}${n === 1 ? "" : "s"}`);
  }
  return parts.join(" · ");
}

/**
 * How many findings of each run to show: all when `expanded`, else FOLDED_LINES shared between
 * the runs that have any (at least one each), unused lines going to the runs with more.
 * `counts` is [n per run]; returns [shown per run].
 */
export function foldCounts(counts, expanded, lines = FOLDED_LINES) {
  if (expanded) return [...counts];
  const shown = counts.map((n) => (n > 0 ? 1 : 0));
  let left = lines - shown.reduce((a, b) => a + b, 0);
  while (left > 0) {
    let gave = false;
    counts.forEach((n, i) => {
      if (left > 0 && shown[i] < n) {
        shown[i] += 1;
        left -= 1;
        gave = true;
      }
    });
    if (!gave) break;
  }
  return shown;
}

/** Where a finding holds, for its line: "step 4 · dense_2 · test". */
export function whereText(finding) {
  const parts = [];
  if (finding.step !== null && finding.step !== undefined) parts.push(`step ${finding.step}`);
  for (const key of ["layer", "dataset", "group"]) if (finding[key]) parts.push(finding[key]);
  return parts.join(" · ");
}

function findingKey(run, f) {
  return JSON.stringify([run, f.kind, f.step, f.layer, f.dataset, f.group, f.subject]);
}

export class FindingsList {
  /** `onPick(run, finding)` is called when a finding is chosen. */
  constructor(onPick) {
    this.onPick = onPick;
    this.expanded = false;
    this.key = null;
    this.results = null; // {ok, failed} of the findings shown
    this.active = null; // key of the finding chosen last
    this.generation = 0;
    this.count = el("span", { className: "ki-findings-count", attrs: { role: "status" } });
    this.more = el("button", { className: "ki-link ki-findings-more", attrs: { type: "button", "aria-expanded": "false", "aria-controls": "ki-findings-list" } });
    this.more.hidden = true;
    this.more.addEventListener("click", () => {
      this.expanded = !this.expanded;
      this.draw();
    });
    this.list = el("div", { className: "ki-findings-list", attrs: { id: "ki-findings-list" } });
    this.section = el("section", {
      className: "ki-findings",
      attrs: { id: "ki-findings", "aria-labelledby": "ki-findings-title", "data-ki-state": "drawn" },
      children: [
        el("div", {
          className: "ki-findings-head",
          children: [el("h2", { text: "Findings", attrs: { id: "ki-findings-title" } }), this.count, this.more],
        }),
        this.list,
      ],
    });
    this.section.hidden = true;
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button.ki-finding");
      if (!button || !this.results) return;
      const item = this.items.get(button.dataset.key);
      if (!item) return;
      this.active = button.dataset.key;
      for (const b of this.list.querySelectorAll("button.ki-finding")) b.classList.toggle("ki-finding-active", b === button);
      this.onPick(item.run, item.finding);
    });
    this.items = new Map();
  }

  /**
   * Shows the findings of `runs` (/runs entries) for data version `dataVersion`: fetched again
   * only when either changed. `fetchFindings(run)` is model.fetchFindings.
   */
  async update(runs, dataVersion, fetchFindings) {
    const key = JSON.stringify([dataVersion, runs.map((r) => r.run)]);
    if (key === this.key) return;
    this.key = key;
    const generation = ++this.generation;
    this.section.hidden = runs.length === 0;
    if (!runs.length) {
      this.results = null;
      this.section.dataset.kiState = "drawn";
      return;
    }
    this.section.dataset.kiState = "loading";
    if (!this.results) this.count.textContent = "checking…";
    const results = await perRun(runs, (run) => fetchFindings(run.run));
    if (generation !== this.generation) return;
    this.results = results;
    this.draw();
    this.section.dataset.kiVersion = String(dataVersion);
    this.section.dataset.kiState = results.ok.length || !results.failed.length ? "drawn" : "error";
  }

  draw() {
    const { ok, failed } = this.results;
    const perRunFindings = ok.map(({ run, value }) => ({ run: run.run, findings: Array.isArray(value.findings) ? value.findings : [] }));
    const all = perRunFindings.flatMap((r) => r.findings);
    const several = perRunFindings.length + failed.length > 1;
    const withAny = perRunFindings.filter((r) => r.findings.length);
    const lines = foldedLines(typeof window === "object" ? window.innerHeight : 0);
    const shown = foldCounts(withAny.map((r) => r.findings.length), this.expanded, lines);
    const hidden = all.length - shown.reduce((a, b) => a + b, 0);
    this.count.textContent = all.length ? countText(all) : "";
    this.more.hidden = !this.expanded && hidden === 0;
    this.more.textContent = this.expanded ? "show fewer" : `show all ${all.length}`;
    this.more.setAttribute("aria-expanded", String(this.expanded));
    this.items = new Map();
    const children = [];
    if (!all.length && ok.length) children.push(el("p", { className: "ki-findings-empty", text: "No findings for the selected runs" }));
    withAny.forEach(({ run, findings }, i) => {
      const items = findings.slice(0, shown[i]).map((finding) => this.line(run, finding));
      // Folded lines are counted in the run's heading (several runs) or by "show all" (one).
      const folded = shown[i] < findings.length ? `${shown[i]} of ${findings.length} shown` : "";
      const heading = several
        ? el("h3", { children: [el("span", { className: "ki-findings-run-name", text: run }), folded ? el("span", { className: "ki-findings-folded", text: ` · ${folded}` }) : null] })
        : null;
      children.push(el("div", { className: "ki-findings-run", attrs: { "data-run": run }, children: [heading, el("ul", { children: items })] }));
    });
    const clean = perRunFindings.filter((r) => !r.findings.length).map((r) => r.run);
    if (several && all.length && clean.length) {
      children.push(el("p", { className: "ki-findings-clean", text: `No findings for ${clean.join(", ")}` }));
    }
    if (failed.length) {
      const first = failed[0];
      const others = failed.length > 1 ? ` (and ${failed.length - 1} more run${failed.length > 2 ? "s" : ""})` : "";
      children.push(el("p", { className: "ki-error", text: `Could not load the findings of ${first.run.run}: ${errorText(first.error)}${others}` }));
    }
    this.list.replaceChildren(...children);
  }

  line(run, finding) {
    const key = findingKey(run, finding);
    this.items.set(key, { run, finding });
    const severity = SEVERITIES.includes(finding.severity) ? finding.severity : "info";
    const where = whereText(finding);
    const button = el("button", {
      className: `ki-finding${key === this.active ? " ki-finding-active" : ""}`,
      attrs: {
        type: "button",
        title: `${finding.message}${where ? ` (${where})` : ""}: show it`,
        "data-key": key,
        "data-run": run,
        "data-kind": finding.kind,
        "data-severity": severity,
        "data-step": finding.step ?? "",
        "data-layer": finding.layer || "",
        "data-dataset": finding.dataset || "",
      },
      children: [
        el("span", { className: `ki-sev ki-sev-${severity}`, text: severity }),
        el("span", { className: "ki-finding-kind", text: kindText(finding.kind) }),
        el("span", { className: "ki-finding-message", text: finding.message }),
        where ? el("span", { className: "ki-finding-where", text: where }) : null,
      ],
    });
    return el("li", { children: [button] });
  }
}
