"""The tab stays readable and shareable (issue 19): many datasets and runs, the view in the
address, panel order, regression words, scale and smoothing, export and definitions.

Real tensorboard (both loaders where the data path matters), real example runs, headless
Chromium; every assertion reads what Plotly drew (its ``data`` / ``_fullLayout``) or the DOM.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from benchmarks.plugin_latency import (
    ALL_PANELS_DRAWN,
    RENDERED_AT_LEAST,
    TensorBoard,
    plugin_frame,
    write_synthetic_run,
)
from tests.browser.conftest import ALL_RUNS, CTR_RUNS, LOAD_FAST_MODES, TIMEOUT_S, TS_RUN
from tests.browser.test_dashboard import (
    choose_layer,
    render_state,
    set_dataset,
    set_run,
    wait_render_after,
)
from tests.example_runs import CTR_STEPS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CTR_DATASETS = ["train", *(f"test{day}" for day in range(1, 9))]

_TRACE_STYLES_JS = """(chart) => {
  const div = document.querySelector(`[data-chart=${chart}]`);
  if (!div || !div._fullData) return null;
  return div._fullData.filter((t) => !(t.meta && t.meta.decoration)).map((t) => ({
    run: t.meta && t.meta.run, dataset: t.meta && t.meta.dataset,
    color: t.line.color, dash: t.line.dash, symbol: t.marker.symbol,
    markers: t.mode.includes("markers"), points: (t.y || []).length}));
}"""

_KEYS_JS = """() => Object.fromEntries([...document.querySelectorAll("#ki-datasets svg.ki-dash")]
  .filter((svg) => svg.style.visibility !== "hidden")
  .map((svg) => [svg.parentElement.querySelector("input").dataset.dataset,
                 {color: svg.dataset.color, dash: svg.dataset.dash,
                  symbol: svg.dataset.symbol}]))"""


def only_run(frame, run: str) -> None:
    for other in ALL_RUNS:
        set_run(frame, other, other == run)


def wait_drawn(frame) -> None:
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)


def styles(frame, chart: str = "model_auc") -> list[dict]:
    wait_drawn(frame)
    found = frame.evaluate(_TRACE_STYLES_JS, chart)
    assert found is not None, f"{chart} was not drawn"
    return found


def test_nine_datasets_and_two_runs_keep_pairwise_distinct_styles(board, dashboard):
    _, frame = dashboard(board)
    only_run(frame, CTR_RUNS[0])
    for dataset in CTR_DATASETS:
        set_dataset(frame, dataset, True)
    traces = styles(frame)
    assert sorted(t["dataset"] for t in traces) == sorted(CTR_DATASETS), traces
    keys = {(t["color"], t["dash"], t["symbol"]) for t in traces}
    assert len(keys) == 9, traces
    # One run: colour by dataset, ten colours for nine datasets.
    assert len({t["color"] for t in traces}) == 9, traces
    assert all(t["markers"] for t in traces), traces
    # The key beside each dataset's box shows exactly its traces' style.
    key = frame.evaluate(_KEYS_JS)
    for t in traces:
        assert key[t["dataset"]] == {"color": t["color"], "dash": t["dash"], "symbol": t["symbol"]}

    # Two runs: colour by run, (dash, symbol) by dataset: still 18 distinct traces.
    set_run(frame, CTR_RUNS[1], True)
    traces = styles(frame)
    assert len(traces) == 18, traces
    assert len({(t["color"], t["dash"], t["symbol"]) for t in traces}) == 18, traces
    for run in CTR_RUNS:
        mine = [t for t in traces if t["run"] == run]
        assert len({t["color"] for t in mine}) == 1, mine
        assert len({(t["dash"], t["symbol"]) for t in mine}) == 9, mine
    assert len({t["color"] for t in traces}) == 2
    # Loss: validation is a subplot of its own, never a dash (dashes mean datasets).
    loss = frame.evaluate(
        """() => document.querySelector('[data-chart=loss]')._fullData.map(
             (t) => [t.meta.kind, t.line.dash, t.yaxis])"""
    )
    assert {dash for _, dash, _ in loss} == {"solid"}, loss
    axes = {kind: {axis for k, _, axis in loss if k == kind} for kind, _, _ in loss}
    assert axes["training"].isdisjoint(axes["validation"]), axes


_VIEW_JS = """() => ({
  runs: Object.fromEntries([...document.querySelectorAll("#ki-runs input[data-run]")]
    .map((b) => [b.dataset.run, b.checked])),
  datasets: [...document.querySelectorAll("#ki-datasets input[data-dataset]")]
    .filter((b) => b.checked).map((b) => b.dataset.dataset),
  focus: document.querySelector("#ki-dataset").value,
  layer: document.querySelector("#ki-layer").value,
  step: document.body.dataset.kiStep,
  scale: document.querySelector('[data-panel=model_auc] [data-choice=scale] select')?.value,
  axis: document.querySelector('[data-chart=model_auc]')?._fullLayout?.yaxis?.type,
})"""


def choose(frame, panel: str, choice: str, value: str) -> None:
    """Picks `value` in a panel's own drop-down and waits for that panel to be drawn again."""
    select = frame.locator(f"section[data-panel={panel}] [data-choice={choice}] select")
    select.select_option(value)
    frame.wait_for_function(
        """([panel, value]) => {
          const s = document.querySelector(`section[data-panel=${panel}]`);
          return s.dataset.kiState === "drawn"; }""",
        arg=[panel, value],
        timeout=TIMEOUT_S * 1000,
    )


def test_the_whole_view_is_in_the_address_and_survives_a_reload_and_a_tab_switch(
    board, dashboard, open_page
):
    page, frame = dashboard(board)
    only_run(frame, CTR_RUNS[1])
    set_dataset(frame, "test5", True)
    set_dataset(frame, "test1", False)
    before = render_state(frame)["rendered"]
    frame.locator("#ki-dataset").select_option("test5")
    wait_render_after(frame, before, "choosing the focus dataset")
    choose_layer(frame, "dense_2")
    before = render_state(frame)["rendered"]
    frame.evaluate(
        """() => { const el = document.querySelector("#ki-step"); el.value = el.min;
                   el.dispatchEvent(new Event("input", {bubbles: true})); }"""
    )
    wait_render_after(frame, before, "moving to the first checkpoint")
    wait_drawn(frame)
    choose(frame, "model_auc", "scale", "log")
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=model_auc]')._fullLayout.yaxis.type === 'log'"
    )
    view = frame.evaluate(_VIEW_JS)
    assert "test5" in view["datasets"] and "test1" not in view["datasets"], view
    address = page.url
    for part in (
        f"inspect_run={CTR_RUNS[1]}",
        "inspect_focus=test5",
        "inspect_layer=dense_2",
        f"inspect_step={CTR_STEPS[0]}",
        "inspect_model_auc.scale=log",
    ):
        assert part in address, address

    # TensorBoard rewrites the address on a tab switch: the view's parameters survive it.
    page.evaluate("() => { location.hash = 'scalars'; }")
    page.wait_for_timeout(1000)
    page.evaluate("() => { location.hash = 'keras_inspect'; }")
    page.wait_for_timeout(1000)
    assert page.url.split("#")[0] == address.split("#")[0], (page.url, address)

    again = open_page(address)
    frame2 = plugin_frame(again, TIMEOUT_S)
    frame2.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    wait_drawn(frame2)
    frame2.wait_for_function(
        "() => document.querySelector('[data-chart=model_auc]')?._fullLayout?.yaxis?.type === 'log'"
    )
    restored = frame2.evaluate(_VIEW_JS)
    assert restored == view, (restored, view)
    assert restored["runs"] == {run: run == CTR_RUNS[1] for run in ALL_RUNS}


def visible_panels(frame) -> list[str]:
    return frame.evaluate(
        """() => [...document.querySelectorAll("section.ki-panel")]
             .filter((s) => !s.hidden && s.getClientRects().length)
             .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top
                          || a.getBoundingClientRect().left - b.getBoundingClientRect().left)
             .map((s) => s.dataset.panel)"""
    )


LOSS_IS_WIDE = (
    "() => document.querySelector('section[data-panel=loss]').classList.contains('ki-wide')"
)


def test_panels_with_data_come_first_and_the_rest_fold_into_one_line(board, open_page):
    page = open_page(f"{board.url}?inspect_run={CTR_RUNS[0]}#keras_inspect", height=800)
    page.set_viewport_size({"width": 1280, "height": 800})
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    wait_drawn(frame)
    order = visible_panels(frame)
    assert order[:3] == ["loss", "model_auc", "layer_std"], order
    assert order[-1] == "not_recorded", order
    missing = frame.evaluate(
        """() => [...document.querySelectorAll(".ki-missing-list li")]
             .map((li) => li.dataset.panel)"""
    )
    assert set(order[:-1]).isdisjoint(missing) and "projection" in missing, (order, missing)
    summary = frame.locator("section[data-panel=not_recorded] summary").inner_text()
    assert summary.startswith(f"Not recorded for the selected runs ({len(missing)})"), summary
    # No panel between the data panels says "No selected run recorded ...".
    assert (
        frame.evaluate(
            "() => document.querySelectorAll('section.ki-panel:not([hidden]) p.ki-hint').length"
        )
        == 0
    )
    # The first screen at 1280 x 800 already shows the loss beside the model AUC, charts drawn.
    boxes = frame.evaluate(
        """() => ["loss", "model_auc"].map((id) => {
             const r = document.querySelector(`[data-chart=${id}]`).getBoundingClientRect();
             return [r.top, r.left, r.bottom]; })"""
    )
    (loss_top, loss_left, _), (auc_top, auc_left, _) = boxes
    assert not frame.evaluate(LOSS_IS_WIDE)
    assert abs(loss_top - auc_top) < 40 and auc_left > loss_left, boxes
    assert loss_top < 800 - 64 - 150, boxes  # TensorBoard's bar takes 64 px of the window

    # A regression run: no model AUC card, regression words.
    only_run(frame, TS_RUN)
    wait_drawn(frame)
    order = visible_panels(frame)
    assert "model_auc" not in order, order
    # The loss, without the model AUC beside it, takes the whole row (no empty half).
    assert frame.evaluate(LOSS_IS_WIDE), "the loss panel kept half a row beside nothing"
    assert (
        frame.locator("section[data-panel=score_hist] h2").inner_text()
        == "Predicted value distribution"
    )
    assert "ridge" in frame.locator("section[data-panel=probes] .ki-desc").inner_text()
    titles = frame.evaluate(
        """() => document.querySelector('[data-chart=score_hist]').layout.annotations
             .map((a) => a.text)"""
    )
    assert not any("no labels" in t for t in titles), titles


def test_smoothing_export_and_definition_of_a_panel(fast_board, dashboard):
    page, frame = dashboard(fast_board)
    only_run(frame, CTR_RUNS[0])
    raw = styles(frame)
    choose(frame, "model_auc", "smoothing", "0.6")
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=model_auc]').data.some((t) => t.meta.smoothing)"
    )
    data = frame.evaluate(
        """() => document.querySelector('[data-chart=model_auc]').data.map(
             (t) => ({dataset: t.meta.dataset, y: [...t.y], faint: !!t.meta.decoration}))"""
    )
    for trace in (t for t in data if not t["faint"]):
        original = next(t for t in data if t["faint"] and t["dataset"] == trace["dataset"])["y"]
        last = total = 0.0
        expected = []
        for value in original:  # TensorBoard's debiased exponential moving average
            last = last * 0.6 + 0.4 * value
            total = total * 0.6 + 0.4
            expected.append(last / total)
        assert trace["y"] == pytest.approx(expected), trace
    assert len(data) == 2 * len(raw)

    # CSV and JSON of what is drawn.
    with page.expect_download() as download:
        frame.locator("section[data-panel=model_auc] button", has_text="CSV").click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("keras_inspect-model_auc"), (
        download.value.suggested_filename
    )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    smoothed = [t for t in data if not t["faint"]]
    assert len(rows) == sum(len(t["y"]) for t in smoothed), len(rows)
    assert {row["dataset"] for row in rows} == {t["dataset"] for t in smoothed}
    assert {"run", "x", "y"} <= set(rows[0]), rows[0]
    with page.expect_download() as download:
        frame.locator("section[data-panel=overview] button", has_text="JSON").click()
    with open(download.value.path()) as f:
        table = json.load(f)
    assert table["panel"] == "overview" and len(table["rows"]) >= 5, table

    # The definition opens under the title, with its paper.
    definition = frame.locator("section[data-panel=layer_std] .ki-definition")
    assert not definition.is_visible()
    frame.locator("section[data-panel=layer_std] button.ki-tool", has_text="?").click()
    definition.wait_for(state="visible")  # definitions.js is imported on this first click
    assert "Guo" in definition.inner_text()


@pytest.mark.parametrize("load_fast", LOAD_FAST_MODES, ids=lambda m: f"load_fast={m}")
def test_three_runs_in_the_matrix_panels_and_a_choice_beyond(
    browser, open_page, tmp_path, load_fast
):
    logdir = tmp_path / "logs"
    runs = ["alpha", "beta", "delta", "gamma"]  # the tab lists runs by name
    for seed, run in enumerate(runs):
        write_synthetic_run(os.path.join(logdir, run), [0, 1], seed=seed)
    with TensorBoard(str(logdir), load_fast, reload_interval=1) as board:
        board.wait_ready()
        page = open_page(f"{board.url}#keras_inspect")
        frame = plugin_frame(page, TIMEOUT_S)
        frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
        frame.wait_for_function(
            "() => document.querySelectorAll('#ki-runs input').length === 4",
            timeout=TIMEOUT_S * 1000,
        )
        for run in runs:
            set_run(frame, run, run != "gamma")
        wait_drawn(frame)
        matrices = frame.evaluate(
            """() => document.querySelector('[data-chart=correlation_matrix]').data
                 .map((t) => t.meta.run)"""
        )
        assert matrices == ["alpha", "beta", "delta"], matrices
        assert frame.locator("section[data-panel=correlation] [data-choice=runs]").count() == 0
        set_run(frame, "gamma", True)
        wait_drawn(frame)
        choice = frame.locator("section[data-panel=correlation] [data-choice=runs] select")
        assert choice.is_visible()
        options = choice.locator("option").all_inner_texts()
        assert options == ["1-3: alpha, beta, delta", "4-4: gamma"], options
        choice.select_option("1")
        frame.wait_for_function(
            """() => { const m = document.querySelector('[data-chart=correlation_matrix]');
                       return m && m.data.length === 1 && m.data[0].meta.run === 'gamma'; }""",
            timeout=TIMEOUT_S * 1000,
        )
