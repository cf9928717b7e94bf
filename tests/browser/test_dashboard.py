"""The Inspect tab as a user sees it: real tensorboard, real CTR runs, headless Chromium.

The DOM contract of the dashboard (``#ki-root``, ``section.ki-panel[data-panel]``,
``div.ki-chart[data-chart]`` being Plotly graph divs, ``#ki-runs``/``#ki-dataset``/``#ki-layer``/
``#ki-step`` selectors and the ``kiRendered``/``kiStep`` body data attributes) is what these tests
read; they never depend on the layout. Run them with::

    .venv/bin/python -m pytest tests/browser -q
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from benchmarks.plugin_latency import ALL_PANELS_DRAWN, RENDERED_AT_LEAST, fetch, plugin_frame
from tests.browser.conftest import ALL_RUNS, CTR_RUNS, DIGITS_RUN, HOSTILE_RUN, TIMEOUT_S, TS_RUN

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PANELS = (
    "loss",
    "model_auc",
    "score_hist",
    "neurons",
    "layer_std",
    "dead_units",
    "correlation",
    "probes",
    "projection",
    "samples",
    "saliency",
    "importance",
    "input_saliency",
    "information",
    "entropy_inter",
    "entropy_intra",
    "channel_capacity",
)  # at the default selection (layer dense_1 of the CTR runs); "clusters" needs a conv layer
# Charts whose legend names classes or labels, not runs.
CLASS_LEGENDS = {"entropy_lines", "entropy_intra_lines", "projection"}
LIVE_STEP = 99
WIDE_LAYER, WIDE_UNITS = "dense_1", 256

# Per chart: its traces (how many values each carries and who it belongs to) and how much
# Plotly drew (SVG paths with geometry, heatmap images, WebGL canvases).
_CHARTS_JS = """
(panel) => {
  const size = (a) => {
    if (a === undefined || a === null || typeof a === "string") return 0;
    if (typeof a.length !== "number") return 0;
    let n = 0;
    for (const item of a) n += (item !== null && typeof item === "object") ? size(item) : 1;
    return n;
  };
  const section = document.querySelector(`section.ki-panel[data-panel="${panel}"]`);
  if (!section) return null;
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const charts = [...section.querySelectorAll("div.ki-chart")].map((el) => {
    const full = el._fullData || [];
    const traces = (el.data || []).map((t, i) => {
      const f = full.find((d) => d.index === i) || {};
      const color = (t.line && t.line.color) || (t.marker && typeof t.marker.color === "string"
        ? t.marker.color : undefined) || (f.line && f.line.color) || (f.marker && f.marker.color);
      return {
        type: t.type || "scatter", name: t.name === undefined ? null : String(t.name),
        legendgroup: t.legendgroup || null, meta: t.meta === undefined ? null : t.meta,
        x: size(t.x), y: size(t.y), z: size(t.z),
        visible: t.visible === undefined ? true : t.visible,
        color: typeof color === "string" ? color : null,
      };
    });
    // Traces are g.trace groups (lines, markers, bars); heatmaps draw an <image> in g.hm.
    const paths = [...el.querySelectorAll(".main-svg g.trace path")]
      .filter((p) => {
        const d = p.getAttribute("d") || "";
        return d.length > 4 && d !== "M0,0Z";
      });
    return {
      chart: el.dataset.chart || null,
      traces,
      svg: el.querySelectorAll(".main-svg").length,
      paths: paths.length,
      images: el.querySelectorAll(".main-svg .hm image").length,
      canvases: el.querySelectorAll("canvas").length,
      legend: [...el.querySelectorAll(".legendtext")].map((t) => t.textContent),
    };
  });
  const texts = (selector) => [...section.querySelectorAll(selector)].filter(visible)
    .map((p) => p.textContent.trim());
  return {charts, hints: texts("p.ki-hint"), errors: texts(".ki-error")};
}
"""

_SET_STEP_JS = """
(where) => {
  const el = document.querySelector("#ki-step");
  el.value = where === "min" ? el.min : where === "max" ? el.max : String(where);
  el.dispatchEvent(new Event("input", {bubbles: true}));
  el.dispatchEvent(new Event("change", {bubbles: true}));
  return el.value;
}
"""

_RENDER_STATE_JS = """
() => ({rendered: Number(document.body.dataset.kiRendered || 0),
        step: document.body.dataset.kiStep})
"""


def charts_of(frame, panel: str) -> dict:
    state = frame.evaluate(_CHARTS_JS, panel)
    assert state is not None, f"no section.ki-panel[data-panel={panel}] in the dashboard"
    return state


def has_data(trace: dict) -> bool:
    return trace["visible"] is not False and (trace["y"] > 0 or trace["z"] > 0 or trace["x"] > 0)


def drawn(chart: dict) -> bool:
    gl = any(t["type"].endswith("gl") for t in chart["traces"])
    return chart["svg"] > 0 and (
        chart["paths"] > 0 or chart["images"] > 0 or (gl and chart["canvases"] > 0)
    )


def render_state(frame) -> dict:
    return frame.evaluate(_RENDER_STATE_JS)


def wait_render_after(frame, before: int, what: str) -> dict:
    """Waits for a full render newer than ``before`` (the kiRendered counter), and for the
    panels out of view that are drawn after it."""
    try:
        frame.wait_for_function(
            "n => Number(document.body.dataset.kiRendered || 0) > n",
            arg=before,
            timeout=TIMEOUT_S * 1000,
        )
        frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    except Exception as error:  # Playwright's TimeoutError; name the interaction
        pytest.fail(f"no full render (kiRendered > {before}) after {what}: {error}", pytrace=False)
    return render_state(frame)


def run_boxes(frame) -> dict[str, bool]:
    """Run name -> checked, from ``#ki-runs input[type=checkbox][data-run]``."""
    return frame.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(
             "#ki-runs input[type=checkbox][data-run]")].map((b) => [b.dataset.run, b.checked]))"""
    )


def _boxes(frame, container: str, key: str) -> dict[str, bool]:
    """Name -> checked of the checkboxes ``#<container> input[data-<key>]``."""
    return frame.evaluate(
        """([container, key]) => Object.fromEntries([...document.querySelectorAll(
             `#${container} input[type=checkbox][data-${key}]`)]
             .map((b) => [b.dataset[key], b.checked]))""",
        [container, key],
    )


def _click_box(frame, container: str, key: str, name: str, checked: bool) -> None:
    """Checks or unchecks one box as a user would (a click), then waits for the render."""
    boxes = _boxes(frame, container, key)
    assert name in boxes, f"no checkbox for {key} {name!r} in #{container}; listed: {list(boxes)}"
    if boxes[name] == checked:
        return
    before = render_state(frame)["rendered"]
    frame.evaluate(
        """([container, key, name]) => [...document.querySelectorAll(
             `#${container} input[type=checkbox][data-${key}]`)]
             .find((b) => b.dataset[key] === name).click()""",
        [container, key, name],
    )
    wait_render_after(frame, before, f"{'checking' if checked else 'unchecking'} {key} {name!r}")
    assert _boxes(frame, container, key)[name] == checked


def set_run(frame, run: str, checked: bool) -> None:
    """Checks or unchecks a run, then waits for the render."""
    _click_box(frame, "ki-runs", "run", run, checked)


def set_dataset(frame, dataset: str, checked: bool) -> None:
    """Ticks or unticks a dataset, then waits for the render."""
    _click_box(frame, "ki-datasets", "dataset", dataset, checked)


def trace_run(trace: dict, runs: tuple[str, ...]) -> str | None:
    """Which run a trace belongs to: its meta or legendgroup, else the longest run in its name."""
    meta = trace["meta"]
    if isinstance(meta, dict) and meta.get("run") in runs:
        return meta["run"]
    if meta in runs:
        return meta
    if trace["legendgroup"] in runs:
        return trace["legendgroup"]
    named = [run for run in runs if trace["name"] and run in trace["name"]]
    return max(named, key=len) if named else None


def run_colours(frame, runs: tuple[str, ...]) -> dict[str, set[str]]:
    """Run -> the colours of its traces in the model_auc chart."""
    state = charts_of(frame, "model_auc")
    colours: dict[str, set[str]] = {}
    for chart in state["charts"]:
        for trace in chart["traces"]:
            if has_data(trace):
                colours.setdefault(trace_run(trace, runs), set()).add(trace["color"])
    return colours


def neuron_values(frame) -> list:
    """The y arrays of the neuron_mean chart (the per-unit means at the current step)."""
    return frame.evaluate(
        """() => {
          const panel = document.querySelector('section.ki-panel[data-panel="neurons"]');
          const charts = [...panel.querySelectorAll("div.ki-chart")];
          const chart = charts.find((c) => (c.dataset.chart || "").includes("neuron_mean"))
            || charts[0];
          return (chart.data || []).map((t) => Array.from(t.y || []));
        }"""
    )


def choose_layer(frame, layer: str) -> None:
    """Picks ``layer`` in ``#ki-layer`` (a wide one shows many units) and waits for the render."""
    options = frame.evaluate(
        "() => [...document.querySelectorAll('#ki-layer option')].map(o => o.value)"
    )
    assert layer in options, f"#ki-layer does not offer {layer!r}: {options}"
    if frame.locator("#ki-layer").input_value() == layer:
        return
    before = render_state(frame)["rendered"]
    frame.locator("#ki-layer").select_option(layer)
    wait_render_after(frame, before, f"choosing layer {layer!r}")


def plugin_runs(board) -> dict[str, dict]:
    return {entry["run"]: entry for entry in board.get_json("runs")["runs"]}


def hover_text_of_run(frame, charts: list[dict], run: str) -> str:
    """Hovers the first point of a trace of ``run`` (model_auc first); returns the label text."""
    ordered = sorted(charts, key=lambda chart: chart["chart"] != "model_auc")
    for chart in ordered:
        for index, trace in enumerate(chart["traces"]):
            if has_data(trace) and trace_run(trace, ALL_RUNS) == run:
                return frame.evaluate(
                    """([name, index]) => {
                      const el = document.querySelector(`div.ki-chart[data-chart="${name}"]`);
                      window.Plotly.Fx.hover(el, [{curveNumber: index, pointNumber: 0}]);
                      return [...el.querySelectorAll(".hoverlayer .hovertext")]
                        .map((h) => h.textContent).join(" | ");
                    }""",
                    [chart["chart"], index],
                )
    pytest.fail(f"no chart has a trace of run {run!r}", pytrace=False)


# Tests ------------------------------------------------------------------------------------------


def test_tab_is_listed_and_enabled(board, dashboard):
    status, body, _ = fetch(f"{board.url}data/plugins_listing")
    assert status == 200
    listing = json.loads(body)
    assert "keras_inspect" in listing, (
        f"keras_inspect not in /data/plugins_listing: {list(listing)}"
    )
    assert listing["keras_inspect"]["enabled"] is True
    assert listing["keras_inspect"]["tab_name"] == "Inspect"

    page, frame = dashboard(board)
    tab = page.locator('.plugin-name[data-plugin-id="keras_inspect"]')
    assert tab.text_content().strip() == "Inspect"  # the header upper-cases it with CSS
    header = page.locator('[role="tab"]', has=tab)
    assert header.get_attribute("aria-disabled") == "false"
    assert header.get_attribute("aria-selected") == "true"
    assert frame.locator("#ki-root").count() == 1


def test_every_panel_draws_data(board, dashboard):
    _, frame = dashboard(board)
    problems = []
    for panel in PANELS:
        state = charts_of(frame, panel)
        full = [c for c in state["charts"] if any(has_data(t) for t in c["traces"])]
        if not state["charts"]:
            problems.append(f"{panel}: no div.ki-chart")
        elif not full:
            problems.append(f"{panel}: no chart has a trace with data: {state['charts']}")
        elif not any(drawn(c) for c in full):
            problems.append(f"{panel}: traces have data but nothing was drawn: {full}")
        if state["hints"]:
            problems.append(f"{panel}: hint shown although its quantity exists: {state['hints']}")
        if state["errors"]:
            problems.append(f"{panel}: error shown: {state['errors']}")
    assert not problems, "\n".join(problems)


def test_choosing_a_step_changes_the_per_unit_panels(board, dashboard):
    _, frame = dashboard(board)
    choose_layer(frame, WIDE_LAYER)
    before = render_state(frame)
    values_before = neuron_values(frame)
    assert any(len(y) == WIDE_UNITS for y in values_before), (
        f"no neuron_mean trace has the {WIDE_UNITS} units of {WIDE_LAYER}: {values_before}"
    )
    slider = frame.evaluate(
        "() => { const s = document.querySelector('#ki-step'); "
        "return {type: s.type, min: s.min, max: s.max, value: s.value}; }"
    )
    assert slider["type"] == "range"
    assert slider["min"] != slider["max"], f"#ki-step offers one position only: {slider}"
    target = "min" if slider["value"] != slider["min"] else "max"
    frame.evaluate(_SET_STEP_JS, target)
    after = wait_render_after(frame, before["rendered"], f"moving #ki-step to its {target}")
    assert after["step"] != before["step"], f"kiStep stayed {before['step']} after moving #ki-step"
    label = frame.locator("#ki-step-label").inner_text()
    assert after["step"] in label, f"#ki-step-label {label!r} does not show step {after['step']}"
    values_after = neuron_values(frame)
    assert values_after != values_before, (
        f"neuron_mean unchanged from step {before['step']} to {after['step']}"
    )


def test_two_runs_show_as_two_coloured_traces(board, dashboard):
    _, frame = dashboard(board)
    for run in ALL_RUNS:  # the CTR runs only
        set_run(frame, run, run in CTR_RUNS)
    two = run_colours(frame, ALL_RUNS)
    for run in CTR_RUNS:
        assert run in two, f"model_auc has no trace of run {run!r}; traces by run: {two}"
        assert len(two[run]) == 1 and None not in two[run], (
            f"run {run!r} should have one colour, has {two[run]}"
        )
    assert two["ctr"] != two["ctr2"], f"ctr and ctr2 share the colour {two['ctr']}"
    assert set(two) <= set(CTR_RUNS), f"unchecked run still drawn: {two}"

    set_run(frame, HOSTILE_RUN, True)
    three = run_colours(frame, ALL_RUNS)
    assert {run: three.get(run) for run in CTR_RUNS} == {run: two[run] for run in CTR_RUNS}, (
        f"colours changed when a third run was checked: {two} -> {three}"
    )
    assert HOSTILE_RUN in three and not three[HOSTILE_RUN] & (two["ctr"] | two["ctr2"]), three

    set_run(frame, HOSTILE_RUN, False)
    again = run_colours(frame, ALL_RUNS)
    assert again == two, f"colours changed when the third run was unchecked again: {two} -> {again}"


def test_hostile_run_name_renders_as_text(board, dashboard):
    page, frame = dashboard(board)
    set_run(frame, HOSTILE_RUN, True)
    label = frame.evaluate(
        """(run) => {
          const box = [...document.querySelectorAll("#ki-runs input[type=checkbox][data-run]")]
            .find((b) => b.dataset.run === run);
          const label = box.closest("label")
            || (box.id && document.querySelector(`label[for="${CSS.escape(box.id)}"]`))
            || box.parentElement;
          return {text: label.textContent,
                  exact: [...label.querySelectorAll("*"), label].some(
                    (e) => e.textContent.trim() === run)};
        }""",
        HOSTILE_RUN,
    )
    assert HOSTILE_RUN in label["text"], f"run label shows {label['text']!r}"
    assert label["exact"], f"no element of the run label has exactly the text {HOSTILE_RUN!r}"
    page.wait_for_timeout(500)  # an injected <img src=x> would fire onerror by now
    for where in page.frames:
        injected = where.evaluate(
            """() => [...document.querySelectorAll("img")]
                 .filter((i) => i.getAttribute("src") === "x" || i.hasAttribute("onerror"))
                 .map((i) => i.outerHTML)"""
        )
        assert not injected, f"the run name became an element in {where.url}: {injected}"
    charts = [chart for panel in PANELS for chart in charts_of(frame, panel)["charts"]]
    # Legends name runs, except those of the charts whose lines or points are classes.
    legends = [
        text for chart in charts if chart["chart"] not in CLASS_LEGENDS for text in chart["legend"]
    ]
    if legends:  # Plotly legends are optional (the run selector is the legend)
        assert any(HOSTILE_RUN in text for text in legends), f"legend texts: {legends}"
    shown = hover_text_of_run(frame, charts, HOSTILE_RUN)
    assert HOSTILE_RUN in shown, f"the hover label of the hostile run's trace reads {shown!r}"
    # The autouse check fails the test if a dialog (alert) opened.


def test_no_console_errors(board, dashboard, page_log):
    _, frame = dashboard(board)
    for run in ALL_RUNS:
        set_run(frame, run, True)
    for select in ("#ki-dataset", "#ki-layer"):
        options = frame.evaluate(
            f"() => [...document.querySelectorAll('{select} option')].map((o) => o.value)"
        )
        assert options, f"{select} has no options"
        for value in (options[-1], options[0]):
            before = render_state(frame)["rendered"]
            current = frame.locator(select).input_value()
            if value == current:
                continue
            frame.locator(select).select_option(value)
            wait_render_after(frame, before, f"choosing {value!r} in {select}")
    for target in ("max", "min"):
        before = render_state(frame)["rendered"]
        position = frame.locator("#ki-step").input_value()
        if frame.evaluate(_SET_STEP_JS, target) != position:
            wait_render_after(frame, before, f"moving #ki-step to its {target}")
    for run in ALL_RUNS[1:]:
        set_run(frame, run, False)
    frame.wait_for_timeout(500)
    assert not page_log.errors, "\n".join(page_log.errors)


def test_empty_logdir_shows_the_getting_started_hint(empty_board, dashboard):
    status, body, _ = fetch(f"{empty_board.url}data/plugins_listing")
    assert status == 200 and json.loads(body)["keras_inspect"]["enabled"] is True, body[:500]
    _, frame = dashboard(empty_board, rendered=False)
    empty = frame.locator("div.ki-empty")
    empty.wait_for(state="visible", timeout=TIMEOUT_S * 1000)
    assert "InspectCallback" in empty.inner_text()
    assert (
        frame.locator("div.ki-chart").count() == 0
        or not frame.locator("div.ki-chart").first.is_visible()
    )


# Runs in every frame before its scripts: in the plugin's frame, notes each panel's
# data-ki-state at the moment the first render cycle ends (kiRendered set).
_STATES_AT_FIRST_RENDER_JS = """
(() => {
  if (!location.pathname.endsWith("/plugin_entry.html")) return;
  const watcher = new MutationObserver(() => {
    if (!document.body || !document.body.dataset.kiRendered || window.__kiFirstRender) return;
    window.__kiFirstRender = [...document.querySelectorAll("section.ki-panel")].map((s) => ({
      panel: s.dataset.panel,
      state: s.dataset.kiState || null,
      top: s.getBoundingClientRect().top,
      available: !s.classList.contains("ki-unavailable"),
    }));
    window.__kiViewHeight = window.innerHeight;
    watcher.disconnect();
  });
  const filter = ["data-ki-rendered"];
  watcher.observe(document, {subtree: true, attributes: true, attributeFilter: filter});
})();
"""


def test_panels_in_view_are_drawn_first(fast_board, open_page):
    page = open_page(
        f"{fast_board.url}#keras_inspect", height=700, init_script=_STATES_AT_FIRST_RENDER_JS
    )
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    first = frame.evaluate("() => window.__kiFirstRender")
    height = frame.evaluate("() => window.__kiViewHeight")
    assert first, "no snapshot of the panels at the end of the first render"
    available = [s for s in first if s["available"]]
    drawn_first = [s for s in available if s["state"] == "drawn"]
    below = [s for s in available if s["state"] == "deferred"]
    assert drawn_first and below, (
        f"a {height} px high view should show some panels and defer the others: {first}"
    )
    assert len(drawn_first) + len(below) == len(available), f"panels half drawn: {first}"
    lowest_drawn = max(s["top"] for s in drawn_first)
    assert all(s["top"] > lowest_drawn for s in below), f"a panel below was drawn first: {first}"
    assert min(s["top"] for s in drawn_first) < height
    below = [s["panel"] for s in below]
    # ... and the ones below are drawn next, without any scrolling.
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    for panel in [p for p in below if p in PANELS]:  # the ones with data at this selection
        full = [
            c for c in charts_of(frame, panel)["charts"] if any(has_data(t) for t in c["traces"])
        ]
        assert any(drawn(c) for c in full), f"{panel}: nothing drawn after the first render"


def append_checkpoint(run_dir: str, step: int) -> None:
    """Appends a copy of the last checkpoint of a run at ``step`` (a new event file)."""
    import keras_inspect as ki
    from keras_inspect.writer import InspectWriter
    from tb_plugin.metadata import EXTRA_AXES, keras_log_tag

    frame = ki.load(run_dir)
    last = frame[frame.step == frame.step.max()]
    with InspectWriter(run_dir) as writer:
        for row in last.to_dict("records"):
            if row["quantity"] in ki.QUANTITIES:
                extra = {axis: row[axis] for axis in EXTRA_AXES if isinstance(row.get(axis), str)}
                writer.write(
                    step,
                    row["quantity"],
                    row["value"],
                    dataset=row["dataset"],
                    layer=row["layer"],
                    **extra,
                )
            elif not row["dataset"] and not row["layer"] and np.ndim(row["value"]) == 0:
                writer.write_scalar(step, keras_log_tag(row["quantity"]), float(row["value"]))


def test_live_update_after_reload(board, dashboard):
    page, frame = dashboard(board)
    set_run(frame, "ctr", True)
    choose_layer(frame, WIDE_LAYER)
    frame.evaluate("() => { window.__kiSamePage = true; }")
    max_before = frame.evaluate("() => Number(document.querySelector('#ki-step').max)")

    append_checkpoint(os.path.join(board.logdir, "ctr"), LIVE_STEP)
    deadline = time.monotonic() + TIMEOUT_S
    while LIVE_STEP not in plugin_runs(board)["ctr"]["steps"]:
        assert time.monotonic() < deadline, f"/runs never listed step {LIVE_STEP} of ctr"
        time.sleep(0.3)

    before = render_state(frame)["rendered"]
    page.locator(".reload-button").click()
    try:
        frame.wait_for_function(
            "n => Number(document.querySelector('#ki-step').max) > n",
            arg=max_before,
            timeout=TIMEOUT_S * 1000,
        )
    except Exception as error:  # Playwright's TimeoutError
        pytest.fail(
            f"#ki-step did not grow past max={max_before} after the reload button although "
            f"/runs lists step {LIVE_STEP}: {error}",
            pytrace=False,
        )
    frame.evaluate(_SET_STEP_JS, "max")  # a no-op if the dashboard already follows the latest
    frame.wait_for_function(
        "s => document.body.dataset.kiStep === s", arg=str(LIVE_STEP), timeout=TIMEOUT_S * 1000
    )
    assert render_state(frame)["rendered"] > before
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    assert frame.evaluate("() => window.__kiSamePage === true"), "the plugin page was reloaded"
    assert any(len(y) == WIDE_UNITS for y in neuron_values(frame))


def test_gradient_panels_of_a_conv_layer(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    choose_layer(frame, "conv_1")
    # Three runs (the saliency panel draws three at a time): a CTR run, the digits, the forecaster.
    for run in (HOSTILE_RUN, CTR_RUNS[1]):
        set_run(frame, run, False)
    # Feature-group saliency: a heatmap row per group; bars of the CTR embeddings and the input.
    saliency = charts_of(frame, "saliency")
    heat = next(c for c in saliency["charts"] if c["chart"] == "saliency_heatmap")
    assert heat["images"] > 0, heat
    groups = frame.evaluate(
        "() => document.querySelector('[data-chart=saliency_bars]').data"
        ".flatMap((t) => t.meta.groups)"
    )
    assert "input" in groups and "user_id_embedding" in groups, groups
    for run in ALL_RUNS:  # the forecaster alone from here on
        set_run(frame, run, run == TS_RUN)
    # Filter importance: conv_1's 16 filters, sorted, and fewer above the 50th percentile.
    bars = frame.evaluate(
        "() => document.querySelector('[data-chart=filter_importance]').data"
        ".filter((t) => t.type === 'bar').map((t) => t.y)"
    )
    assert bars and len(bars[0]) == 16 and bars[0] == sorted(bars[0], reverse=True), bars
    frame.evaluate(
        "() => { const s = document.querySelector('[data-percentile]'); s.value = '50'; "
        "s.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=filter_importance]').data[0].y.length < 16",
        timeout=TIMEOUT_S * 1000,
    )
    label = frame.locator(".ki-percentile-label").inner_text()
    assert "of 16 units" in label, label
    # Clusters: sizes add up to the 16 filters; one outlined block per cluster in the matrix.
    clusters = frame.evaluate(
        """() => {
          const sizes = document.querySelector('[data-chart=cluster_sizes]');
          const matrix = document.querySelector('[data-chart=cluster_matrix]');
          return {sizes: sizes.data[0].y, names: sizes.data[0].x,
                  blocks: matrix.layout.shapes.length, order: matrix.data[0].meta.order};
        }"""
    )
    assert sum(clusters["sizes"]) == 16, clusters
    assert clusters["blocks"] == len(clusters["names"]), clusters
    assert sorted(clusters["order"]) == list(range(16)), clusters
    assert drawn(charts_of(frame, "clusters")["charts"][0])
    # Input saliency over the input: two channels per map, for the output and conv_1.
    maps = frame.evaluate(
        "() => document.querySelector('[data-chart=input_saliency]').data"
        ".map((t) => ({layer: t.meta.layer, channel: t.meta.channel, n: t.y.length,"
        " top: Math.max(...t.meta.saliency)}))"
    )
    assert sorted({(m["layer"], m["channel"]) for m in maps}) == [
        ("", 0),
        ("", 1),
        ("conv_1", 0),
        ("conv_1", 1),
    ], maps
    assert all(m["n"] == 50 and m["top"] > 0 for m in maps), maps
    first = frame.evaluate("() => document.querySelector('[data-chart=input_saliency]').data[0].y")
    frame.locator("[data-choice=sample] select").select_option("1")
    frame.wait_for_function(
        "y0 => JSON.stringify(document.querySelector('[data-chart=input_saliency]').data[0].y)"
        " !== y0",
        arg=json.dumps(first),
        timeout=TIMEOUT_S * 1000,
    )
    assert TS_RUN in frame.locator("section[data-panel=input_saliency] .ki-note").inner_text()
    # An image model: the saliency as a heatmap over each 8 x 8 digit.
    for run in ALL_RUNS:
        set_run(frame, run, run == DIGITS_RUN)
    images = frame.evaluate(
        "() => document.querySelector('[data-chart=input_saliency]').data"
        ".map((t) => ({type: t.type, kind: t.meta && t.meta.kind, rows: t.z.length,"
        " cols: t.z[0].length}))"
    )
    saliency = [m for m in images if m["kind"] == "saliency"]
    assert len(images) == 2 * len(saliency) and saliency, images
    assert all(m["type"] == "heatmap" and (m["rows"], m["cols"]) == (8, 8) for m in images), images
    assert drawn(charts_of(frame, "input_saliency")["charts"][0])


def test_prediction_entropy_and_inter_sample_entropy_panels(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    info = frame.evaluate(
        """() => {
          const lines = document.querySelector('[data-chart=entropy_lines]');
          const matrix = document.querySelector('[data-chart=confusion_matrix]');
          return {
            quantities: [...new Set(lines.data.map((t) => t.meta.quantity))].sort(),
            classes: [...new Set(lines.data.map((t) => t.meta.class))].length,
            z: matrix.data[0].z, run: matrix.data[0].meta.run,
          };
        }"""
    )
    assert info["quantities"] == ["entropy_label_given_pred", "entropy_pred_given_label"], info
    assert info["classes"] == 10 and info["run"] == DIGITS_RUN
    assert len(info["z"]) == 10 and all(len(row) == 10 for row in info["z"])
    assert sum(map(sum, info["z"])) > 0
    assert drawn(charts_of(frame, "information")["charts"][1])
    layers = frame.evaluate(
        "() => [...new Set(document.querySelector('[data-chart=entropy_inter]').data"
        ".map((t) => t.meta.layer))]"
    )
    assert layers[0] == "input" and "conv_1" in layers, layers


_CAPACITY_JS = """
() => {
  const div = document.querySelector('[data-chart=channel_capacity]');
  const t = div.data[0];
  return {x: t.x, y: t.y, z: t.z, pair: t.meta.pair, run: t.meta.run,
          pairs: [...document.querySelectorAll('[data-choice=pair] option')].map((o) => o.value)};
}
"""


def test_intra_sample_entropy_and_channel_capacity_panels(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    # Intra-sample entropy: the default layer (a Dense layer of the CTR runs) has no maps, so
    # the panel shows the first layer of the digits CNN that has: one subplot per channel,
    # one line per class plus all samples, and the classes x channels view at the cursor.
    intra = frame.evaluate(
        """() => {
          const lines = document.querySelector('[data-chart=entropy_intra_lines]').data;
          const heat = document.querySelector('[data-chart=entropy_intra_classes]').data[0];
          return {classes: [...new Set(lines.map((t) => t.meta.class))],
                  channels: new Set(lines.map((t) => t.meta.channel)).size,
                  points: lines.map((t) => t.y.filter((v) => v !== null).length),
                  rows: heat.z.length, cols: heat.z[0].length, heatClasses: heat.meta.classes,
                  z: heat.z};
        }"""
    )
    assert intra["classes"] == [*map(str, range(10)), "all"], intra["classes"]
    assert intra["channels"] == 16 and min(intra["points"]) >= 2, intra  # conv_1: 16 filters
    assert (intra["rows"], intra["cols"]) == (11, 16) and intra["heatClasses"][-1] == "all"
    assert all(0 <= v <= 5 for row in intra["z"] for v in row)  # bits of 32 bins: <= log2(32)
    note = frame.locator("section[data-panel=entropy_intra] .ki-note").inner_text()
    assert DIGITS_RUN in note and "conv_1" in note, note
    assert all(drawn(c) for c in charts_of(frame, "entropy_intra")["charts"])
    # Channel capacity: conv_1 -> conv_2 of the digits CNN, sorted by maximum (the default):
    # the column maxima and row maxima of what is drawn never increase.
    cap = frame.evaluate(_CAPACITY_JS)
    assert cap["run"] == DIGITS_RUN and cap["pair"] == "conv_1->conv_2", cap["pair"]
    assert (len(cap["z"]), len(cap["z"][0])) == (32, 16)
    column_max = [max(row[i] for row in cap["z"]) for i in range(16)]
    row_max = [max(row) for row in cap["z"]]
    assert column_max == sorted(column_max, reverse=True), column_max
    assert row_max == sorted(row_max, reverse=True), row_max
    assert sorted(map(int, cap["x"])) == list(range(16)) and cap["x"] != [str(i) for i in range(16)]
    # "channel index" restores layer order.
    frame.locator("[data-choice=sort] select").select_option("index")
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=channel_capacity]').data[0].x.join() === "
        f"'{','.join(map(str, range(16)))}'",
        timeout=TIMEOUT_S * 1000,
    )
    ordered = frame.evaluate(_CAPACITY_JS)
    assert ordered["y"] == [str(i) for i in range(32)]
    # Sorting only permutes rows and columns: the same rows, as multisets of values.
    assert sorted(map(sorted, ordered["z"])) == sorted(map(sorted, cap["z"]))
    assert drawn(charts_of(frame, "channel_capacity")["charts"][0])


def test_projection_panel_colours_rows_by_label_and_follows_the_cursor(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    read = """() => [...document.querySelector('[data-chart=projection]').data].map((t) => ({
        run: t.meta.run, label: t.meta.label === undefined ? null : t.meta.label,
        n: t.x.length, x0: t.x[0]}))"""
    before = frame.evaluate(read)
    # The default layer of the CTR runs is not projected (they record the standard preset):
    # the digits CNN's first projected layer, one trace per digit class, every row drawn.
    assert {t["run"] for t in before} <= {DIGITS_RUN, TS_RUN}, before
    digits = [t for t in before if t["run"] == DIGITS_RUN]
    assert sorted(t["label"] for t in digits) == list(range(10)), digits
    assert sum(t["n"] for t in digits) > 100
    assert drawn(charts_of(frame, "projection")["charts"][0])
    # Which checkpoint is shown: in the note (one run) or each subplot's title (two runs).
    note = frame.locator("section[data-panel=projection] .ki-note").inner_text()
    titles = frame.evaluate(
        "() => (document.querySelector('[data-chart=projection]').layout.annotations || [])"
        ".map((a) => a.text)"
    )
    assert "step" in note or any(DIGITS_RUN in t and "step" in t for t in titles), (note, titles)
    # Moving the cursor to the first checkpoint shows the first projection.
    state = render_state(frame)
    frame.evaluate(_SET_STEP_JS, "min")
    wait_render_after(frame, state["rendered"], "moving #ki-step to its min")
    after = frame.evaluate(read)
    assert [t["x0"] for t in after] != [t["x0"] for t in before], (before, after)


def test_hinton_diagram_of_the_chosen_layer(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    # The default layer (dense_1 of the CTR runs, which record the standard preset) has none.
    note = frame.locator("section[data-panel=weights_hinton] .ki-note").inner_text()
    assert "has no kernel" in note, note
    choose_layer(frame, "conv_1")  # the digits CNN's and the forecaster's first convolution
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=weights_hinton]')?.data?.length >= 2",
        timeout=TIMEOUT_S * 1000,
    )
    squares = frame.evaluate(
        """() => document.querySelector('[data-chart=weights_hinton]').data.map((t) => ({
            run: t.meta.run, sign: t.meta.sign, rows: t.meta.rows, cols: t.meta.cols,
            n: t.x.length, w: t.customdata, size: t.marker.size}))"""
    )
    runs = {s["run"] for s in squares}
    assert runs == {DIGITS_RUN, TS_RUN}, runs
    digits = [s for s in squares if s["run"] == DIGITS_RUN]
    # conv_1 of the digits CNN: 1 input channel x 16 filters, each weight a square.
    assert {(s["rows"], s["cols"]) for s in digits} == {(1, 16)}
    assert sum(s["n"] for s in digits) == 16
    for s in squares:
        assert all((w > 0) == (s["sign"] == "positive") for w in s["w"]), s
        # Area follows magnitude: size^2 / |w| is one constant within a chart.
        ratios = [size**2 / abs(w) for size, w in zip(s["size"], s["w"], strict=True)]
        assert max(ratios) <= 1.01 * min(ratios), s
    assert drawn(charts_of(frame, "weights_hinton")["charts"][0])


def test_model_overview_lists_every_layer_and_a_click_selects_one(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    rows = frame.evaluate(
        """() => [...document.querySelectorAll('section[data-panel=overview] tbody tr')]
            .map((tr) => ({layer: tr.dataset.layer, cells: [...tr.cells].map((c) => c.textContent),
                           link: !!tr.querySelector('button[data-layer]')}))"""
    )
    by_layer = {row["layer"]: row for row in rows}
    # The CTR model: embeddings and concatenation (not inspected) before the Dense stack.
    assert {"dense_1", "dense_2", "ctr"} <= set(by_layer), list(by_layer)
    assert by_layer["dense_2"]["link"] and by_layer["dense_2"]["cells"][2] == "Dense"
    assert [row["layer"] for row in rows].index("dense_1") < [row["layer"] for row in rows].index(
        "dense_2"
    )
    assert any(not row["link"] for row in rows), rows  # layers that were not inspected
    assert by_layer["dense_1"]["cells"][3] == "(256)", by_layer["dense_1"]
    assert "neuron_mean" in by_layer["dense_2"]["cells"][5]
    before = render_state(frame)["rendered"]
    frame.locator("section[data-panel=overview] button[data-layer='dense_2']").click()
    wait_render_after(frame, before, "clicking dense_2 in the model overview")
    assert frame.locator("#ki-layer").input_value() == "dense_2"
    current = frame.evaluate(
        "() => document.querySelector('section[data-panel=overview] tr.ki-current').dataset.layer"
    )
    assert current == "dense_2"
    assert WIDE_UNITS not in {len(y) for y in neuron_values(frame)}  # dense_2 is narrower


def test_samples_panel_shows_input_maps_and_the_output(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    choose_layer(frame, "conv_1")
    traces = frame.evaluate(
        """() => document.querySelector('[data-chart=samples]').data.map((t) => ({
            kind: t.meta.kind, label: t.meta.label, truth: t.meta.truth,
            rows: t.z ? t.z.length : 0, cols: t.z ? t.z[0].length : 0,
            y: t.type === 'bar' ? t.y : null,
            colors: t.marker && Array.isArray(t.marker.color) ? t.marker.color : null}))"""
    )
    kinds = [t["kind"] for t in traces]
    # The digits CNN (first selected run with samples): 4 samples x (input, conv_1, output).
    assert kinds.count("map") == 8 and kinds.count("probabilities") == 4, kinds
    inputs = [t for t in traces if t["label"] == "input"]
    assert all((t["rows"], t["cols"]) == (8, 8) for t in inputs), inputs
    # conv_1: 16 channels of 8 x 8 in a 4 x 4 grid with one-pixel gaps.
    layer = [t for t in traces if t["label"] == "layer conv_1"]
    assert all((t["rows"], t["cols"]) == (35, 35) for t in layer), layer
    for t in (t for t in traces if t["kind"] == "probabilities"):
        assert len(t["y"]) == 10 and abs(sum(t["y"]) - 1) < 0.01, t["y"]
        green = [k for k, c in enumerate(t["colors"]) if c == "#2ca02c"]
        assert green == [t["truth"]], t
    assert drawn(charts_of(frame, "samples")["charts"][0])
    # The forecaster is a regressor: its prediction beside the true value, as recorded.
    for run in ALL_RUNS:
        set_run(frame, run, run == TS_RUN)
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    bars = frame.evaluate(
        """() => document.querySelector('[data-chart=samples]').data
            .filter((t) => t.meta.label === 'output').map((t) => ({kind: t.meta.kind, y: t.y}))"""
    )
    assert [b["kind"] for b in bars] == ["prediction", "target"] * 4, bars
    import keras_inspect as ki

    recorded = ki.load(os.path.join(fast_board.logdir, TS_RUN))
    probs = recorded[(recorded.quantity == "prediction_probs") & (recorded.dataset == "train")]
    last = probs[probs.step == probs.step.max()].sort_values("sample")
    for k, value in enumerate(last.value):
        assert bars[2 * k]["y"] == pytest.approx(list(value[0]), rel=1e-3, abs=1e-3)
        assert bars[2 * k + 1]["y"] == pytest.approx(list(value[1]), rel=1e-3, abs=1e-3)


def test_the_page_url_can_name_the_runs_the_tab_opens_on(board, open_page):
    page = open_page(f"{board.url}?inspect_run={TS_RUN}#keras_inspect")
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    assert run_boxes(frame) == {run: run == TS_RUN for run in ALL_RUNS}
    # The datasets shown at first are the first of that run's, whatever the other runs hold
    # (the CTR run beside the forecaster's "test" and the digits' "per_class_*").
    page = open_page(f"{board.url}?inspect_run=ctr#keras_inspect")
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    shown = frame.evaluate(
        "() => [...document.querySelectorAll('#ki-datasets input[data-dataset]')]"
        ".filter((box) => box.checked).map((box) => box.dataset.dataset)"
    )
    assert shown == ["train", "test1", "test2"], shown
    # Repeated: every named run (TensorBoard's rewritten address keeps only the last one).
    both = f"inspect_run={TS_RUN}&inspect_run={DIGITS_RUN}"
    page = open_page(f"{board.url}?{both}#keras_inspect")
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    assert run_boxes(frame) == {run: run in (TS_RUN, DIGITS_RUN) for run in ALL_RUNS}
    # The dashboard rewrote the address with numbered keys, which TensorBoard keeps.
    named = page.evaluate(
        """() => [...new URLSearchParams(location.search)]
             .filter(([key]) => key.startsWith('inspect_run')).map(([, value]) => value)"""
    )
    assert sorted(named) == sorted([TS_RUN, DIGITS_RUN]), named


def test_a_wide_layers_correlation_matrix_names_its_unit_subset(fast_board, dashboard):
    _, frame = dashboard(fast_board)
    for run in ALL_RUNS:  # a CTR run alone (the synthetic hostile run has no subset)
        set_run(frame, run, run == CTR_RUNS[0])
    choose_layer(frame, WIDE_LAYER)  # 256 units: correlated over a fixed subset of 128
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=correlation_matrix]')?.data?.length >= 1",
        timeout=TIMEOUT_S * 1000,
    )
    matrix = frame.evaluate(
        """() => { const m = document.querySelector('[data-chart=correlation_matrix]');
          const t = m.data[0];
          return {run: t.meta.run, rows: t.z.length, cols: t.z[0].length,
                  first: t.customdata[0][1], last: t.customdata[127][127],
                  title: m.layout.xaxis.title.text, ticks: m.layout.xaxis.ticktext}; }"""
    )
    import keras_inspect as ki

    recorded = ki.load(os.path.join(fast_board.logdir, matrix["run"]))
    units = recorded[
        (recorded.quantity == "correlation_units") & (recorded.layer == WIDE_LAYER)
    ].value.iloc[0]
    assert (matrix["rows"], matrix["cols"]) == (128, 128), matrix
    assert matrix["first"] == [int(units[0]), int(units[1])], matrix
    assert matrix["last"] == [int(units[127]), int(units[127])], matrix
    assert f"128 of {WIDE_UNITS} units (a fixed random subset)" in matrix["title"], matrix
    assert matrix["ticks"][:2] == [str(units[0]), str(units[16])], matrix
    note = frame.locator("section[data-panel=correlation] .ki-note").inner_text()
    assert f"matrix over 128 of {WIDE_UNITS} units" in note, note
    assert drawn(
        next(
            c
            for c in charts_of(frame, "correlation")["charts"]
            if c["chart"] == "correlation_matrix"
        )
    )


_CHART_AXES_JS = """(name) => {
  const div = document.querySelector(`[data-chart=${name}]`);
  if (!div || !div._fullLayout) return null;
  return {
    modes: div.data.map((t) => t.mode),
    categories: [...(div.layout.xaxis.categoryarray || [])],
    x: div.data.map((t) => [...(t.x || [])]),
    range: [...div._fullLayout.yaxis.range],
  };
}"""


def test_per_dataset_charts_are_honest_about_what_is_ticked_and_how_far_apart(board, dashboard):
    _, frame = dashboard(board)
    for run in ALL_RUNS:  # one CTR run: 9 datasets, 3 ticked at first
        set_run(frame, run, run == CTR_RUNS[0])
    ticked = ["train", "test1", "test5"]  # not neighbours: test2..test4 stay off the axis
    for dataset in ("train", "test1", "test2", "test3", "test4", "test5"):
        set_dataset(frame, dataset, dataset in ticked)
    std = frame.evaluate(_CHART_AXES_JS, "layer_std")
    assert std is not None, "layer_std was not drawn"
    # Only the ticked datasets on the category axis, markers without a joining line, from 0.
    assert std["categories"] == ticked and all(x == ticked for x in std["x"]), std
    assert set(std["modes"]) == {"markers"}, std
    assert std["range"][0] == 0, std
    # AUCs from chance (or below, in tenths) to just above 1, not magnified to the noise.
    for chart in ("model_auc", "probe_over_steps"):
        axes = frame.evaluate(_CHART_AXES_JS, chart)
        assert axes is not None, f"{chart} was not drawn"
        low, high = axes["range"]
        assert 0 <= low <= 0.5 and high == pytest.approx(1.02), (chart, axes["range"])
