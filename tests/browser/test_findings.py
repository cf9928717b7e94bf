"""Findings and CKA in a real TensorBoard (issue 20): the list above the panels, its click-through
to the panel that shows a finding, and the two CKA panels, including a refused comparison.

The logdir is written here, summary by summary, with known findings (PLAN): in run ``alpha``
layer ``dense_2`` dies on train at step 3 (dead fraction 0.95), dataset ``test3`` (not shown by
default) drifts far from train and the held-out AUC falls; ``beta`` is the same model trained
again on the same rows, ``gamma`` another one on other rows (its CKA cannot be compared with
theirs), ``plain`` records none of what the rules read, ``dying`` has more findings than the
folded list shows and ``live`` gets new checkpoints during a test. Run with::

    .venv/bin/pytest -m browser tests/browser/test_findings.py -x -q
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import pytest

from benchmarks.plugin_latency import (
    ALL_PANELS_DRAWN,
    RENDERED_AT_LEAST,
    TensorBoard,
    plugin_frame,
)
from tests.browser.conftest import TIMEOUT_S, wait_for_runs
from tests.browser.test_dashboard import render_state, wait_render_after

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STEPS = list(range(6))
LAYERS = ["dense_1", "dense_2", "dense_3", "dense_4"]
DATASETS = ["train", "test1", "test2", "test3"]
DEAD_LAYER, DEAD_STEP = "dense_2", 3
DRIFTED = "test3"
LIVE_LAYER, LIVE_STEPS = "dense_1", [6, 7]
# What each run does: layers that die (from a step), datasets shifted from the start, whether
# held-out AUC and val_loss turn worse, and which rows its CKA used (n, fingerprint).
PLAN = {
    "alpha": {"dead": {DEAD_LAYER: DEAD_STEP}, "drift": {DRIFTED}, "overfit": True},
    "beta": {},
    "gamma": {"rows": 40, "fingerprint": (5, 6, 7, 8)},
    "plain": {"plain": True},  # none of the quantities the rules read
    "dying": {"dead": dict.fromkeys(LAYERS, 2), "drift": set(DATASETS[1:]), "overfit": True},
    "live": {"dead": {LIVE_LAYER: LIVE_STEPS[0]}},  # dies in checkpoints written by a test
}
RUNS = {run: STEPS for run in PLAN}


def _gram(features: np.ndarray) -> np.ndarray:
    centred = features - features.mean(axis=0)
    gram = centred @ centred.T
    return (gram / np.linalg.norm(gram)).astype(np.float32)


def write_run(path: str, run: str, steps: list[int] = STEPS) -> None:
    """Checkpoints of one run of known behaviour (PLAN), written summary by summary."""
    from keras_inspect.writer import InspectWriter
    from tb_plugin.metadata import keras_log_tag

    plan = PLAN[run]
    plain = plan.get("plain", False)
    rng = np.random.default_rng(sum(map(ord, run)))
    rows = plan.get("rows", 32)
    inputs = np.random.default_rng(rows).normal(size=(rows, 8))  # the same rows for equal n
    weights = [rng.normal(size=(8 if k == 0 else 12, 12)) / 3 for k in range(len(LAYERS))]
    previous = None
    with InspectWriter(path) as writer:
        for step in steps:
            progress = step / STEPS[-1]
            features, x = {}, inputs
            for k, layer in enumerate(LAYERS):
                change = 0.3 * max(0.0, 1 - progress)
                weights[k] = weights[k] + change * rng.normal(size=weights[k].shape)
                x = np.tanh(x @ weights[k])
                features[layer] = x
            for dataset in DATASETS:
                if not plain:
                    train_auc = 0.7 + 0.25 * progress
                    test_auc = 0.7 + (-0.05 if plan.get("overfit") else 0.1) * progress
                    auc = train_auc if dataset == "train" else test_auc
                    writer.write(step, "model_auc", auc, dataset=dataset)
                for layer in LAYERS:
                    shifted = dataset in plan.get("drift", ())
                    writer.write(
                        step, "layer_std", 1.5 if shifted else 1.0, dataset=dataset, layer=layer
                    )
                    if plain:
                        continue
                    dies = plan.get("dead", {}).get(layer)
                    dead = 0.95 if dies is not None and step >= dies else 0.02
                    writer.write(step, "dead_fraction", dead, dataset=dataset, layer=layer)
                    probe = 0.6 + 0.05 * LAYERS.index(layer)
                    writer.write(step, "probe_auc", probe, dataset=dataset, layer=layer)
                    if dataset != "train":
                        # A shift of the inputs: there from the first checkpoint on.
                        drift = 0.9 + 0.05 * progress if shifted else 0.01
                        writer.write(step, "drift", drift, dataset=dataset, layer=layer)
            if not plain:
                for layer in LAYERS:
                    gram = _gram(features[layer])
                    writer.write(step, "cka_gram", gram, dataset="train", layer=layer)
                    if previous is not None:
                        same = float((gram.astype(np.float64) * _gram(previous[layer])).sum())
                        writer.write(step, "cka_previous", same, dataset="train", layer=layer)
                fingerprint = np.array(plan.get("fingerprint", (11, 22, 33, 44)), np.int32)
                writer.write(step, "cka_rows", fingerprint, dataset="train")
            previous = features
            writer.write_scalar(step, keras_log_tag("loss"), 1.0 / (step + 1))
            rise = 0.02 if plan.get("overfit") else -0.02
            writer.write_scalar(step, keras_log_tag("val_loss"), 0.8 + rise * step)


def write_logdir(root: str) -> None:
    for run in PLAN:
        write_run(os.path.join(root, run), run)


@pytest.fixture(scope="module")
def findings_board(browser, tmp_path_factory) -> Iterator[TensorBoard]:
    root = str(tmp_path_factory.mktemp("ki_findings"))
    write_logdir(root)
    board = TensorBoard(root, "true", reload_interval=1)
    try:
        board.wait_ready()
        wait_for_runs(board, RUNS)
        yield board
    finally:
        board.stop()


def open_tab(open_page, board: TensorBoard, *runs: str):
    """Opens the tab on ``runs`` (a query of the address); waits for panels and findings."""
    query = "&".join(f"inspect_run{'' if i == 0 else f'_{i + 1}'}={r}" for i, r in enumerate(runs))
    page = open_page(f"{board.url}?{query}#keras_inspect", height=900)
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    frame.wait_for_function(FINDINGS_DRAWN, timeout=TIMEOUT_S * 1000)
    return page, frame


FINDINGS_DRAWN = """() => {
  const section = document.querySelector("#ki-findings");
  return section && section.dataset.kiState === "drawn" && section.dataset.kiVersion;
}"""

_FINDINGS_JS = """() => {
  const section = document.querySelector("#ki-findings");
  return {
    hidden: section.hidden,
    count: section.querySelector(".ki-findings-count").textContent,
    empty: [...section.querySelectorAll(".ki-findings-empty")].map((p) => p.textContent),
    headings: [...section.querySelectorAll(".ki-findings-run h3 .ki-findings-run-name")]
      .map((h) => h.textContent),
    more: section.querySelector(".ki-findings-more").hidden ? null
      : section.querySelector(".ki-findings-more").textContent,
    errors: [...section.querySelectorAll(".ki-error")].map((p) => p.textContent),
    items: [...section.querySelectorAll("button.ki-finding")].map((b) => ({
      run: b.dataset.run, kind: b.dataset.kind, severity: b.dataset.severity,
      step: b.dataset.step, layer: b.dataset.layer, dataset: b.dataset.dataset,
      badge: b.querySelector(".ki-sev").textContent, text: b.textContent,
      top: b.getBoundingClientRect().top,
    })),
    top: section.getBoundingClientRect().top,
    panelsTop: document.querySelector("#ki-panels").getBoundingClientRect().top,
  };
}"""


def findings_of(frame) -> dict:
    return frame.evaluate(_FINDINGS_JS)


def click_finding(frame, kind: str, **where: str) -> dict:
    """Clicks the first finding of ``kind`` (matching ``where``); waits for the render."""
    state = findings_of(frame)
    match = [
        item
        for item in state["items"]
        if item["kind"] == kind and all(item[key] == value for key, value in where.items())
    ]
    assert match, f"no {kind} finding with {where} in the list: {state['items']}"
    before = render_state(frame)["rendered"]
    frame.evaluate(
        """([kind, where]) => [...document.querySelectorAll("button.ki-finding")]
             .find((b) => b.dataset.kind === kind
                  && Object.entries(where).every(([k, v]) => b.dataset[k] === v)).click()""",
        [kind, where],
    )
    wait_render_after(frame, before, f"clicking the {kind} finding")
    return match[0]


def in_view(frame, panel: str) -> None:
    frame.wait_for_function(
        """(panel) => {
          const s = document.querySelector(`section.ki-panel[data-panel="${panel}"]`);
          const box = s.getBoundingClientRect();
          const bar = document.querySelector("#ki-cursor-bar").getBoundingClientRect();
          return !s.hidden && box.top >= bar.bottom - 2 && box.top < window.innerHeight * 0.5;
        }""",
        arg=panel,
        timeout=TIMEOUT_S * 1000,
    )


def address(page) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(page.url).query)


# Tests ------------------------------------------------------------------------------------------


def test_the_list_shows_the_dead_layer_above_the_panels(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha")
    state = findings_of(frame)
    assert not state["hidden"] and not state["errors"], state
    assert state["top"] < state["panelsTop"], "the findings are not above the panels"
    dead = [i for i in state["items"] if i["kind"] == "dead_units"]
    assert dead, f"no dead_units finding for alpha: {state['items']}"
    first = dead[0]
    assert (first["layer"], first["step"]) == (DEAD_LAYER, str(DEAD_STEP)), first
    assert first["severity"] in ("alert", "warning")
    assert first["badge"].strip().lower() == first["severity"]  # a word, not colour alone
    assert "dead units" in first["text"]
    ranks = [["alert", "warning", "info"].index(i["severity"]) for i in state["items"]]
    assert ranks == sorted(ranks), state["items"]
    assert state["count"] and state["headings"] == []  # one run: no run headings
    assert len(state["items"]) <= 6 or state["more"], "a long list is not folded"
    badge = frame.evaluate(
        """() => getComputedStyle(document.querySelector("button.ki-finding .ki-sev"))
             .backgroundColor"""
    )
    assert badge not in ("rgba(0, 0, 0, 0)", "transparent"), "severity badges have no colour"


def test_clicking_a_finding_goes_to_its_step_layer_and_panel(findings_board, open_page):
    page, frame = open_tab(open_page, findings_board, "alpha")
    assert frame.locator("#ki-step").input_value() == str(STEPS[-1])
    click_finding(frame, "dead_units", layer=DEAD_LAYER)
    assert frame.locator("#ki-step").input_value() == str(DEAD_STEP)
    assert frame.evaluate("() => document.body.dataset.kiStep") == str(DEAD_STEP)
    assert frame.locator("#ki-layer").input_value() == DEAD_LAYER
    view = address(page)
    assert view.get("inspect_step") == [str(DEAD_STEP)], page.url
    assert view.get("inspect_layer") == [DEAD_LAYER], page.url
    in_view(frame, "dead_units")
    assert frame.evaluate(
        """() => document.activeElement ===
             document.querySelector('section.ki-panel[data-panel="dead_units"]')"""
    ), "the panel of the finding did not take the keyboard focus"
    flashed = frame.evaluate(
        """() => document.querySelector('section.ki-panel[data-panel="dead_units"]')
             .classList.contains("ki-flash")"""
    )
    assert flashed, "the panel of the finding is not highlighted"
    active = frame.evaluate(
        "() => [...document.querySelectorAll('button.ki-finding-active')].map(b => b.dataset.kind)"
    )
    assert active == ["dead_units"]


def test_a_drift_finding_ticks_and_focuses_its_dataset(findings_board, open_page):
    page, frame = open_tab(open_page, findings_board, "alpha")
    ticked = frame.evaluate(
        """(d) => document.querySelector(`#ki-datasets input[data-dataset="${d}"]`).checked""",
        DRIFTED,
    )
    assert not ticked, f"{DRIFTED} should be hidden by default (the first three are shown)"
    item = click_finding(frame, "drift", dataset=DRIFTED)
    assert frame.locator("#ki-dataset").input_value() == DRIFTED
    assert frame.evaluate(
        """(d) => document.querySelector(`#ki-datasets input[data-dataset="${d}"]`).checked""",
        DRIFTED,
    )
    assert address(page).get("inspect_focus") == [DRIFTED], page.url
    if item["layer"]:
        assert frame.locator("#ki-layer").input_value() == item["layer"]
    in_view(frame, "layer_std")
    # The layer std chart now has the drifted dataset among its categories.
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    categories = frame.evaluate(
        """() => document.querySelector('[data-chart="layer_std"]')._fullLayout.xaxis
             .categoryarray"""
    )
    assert DRIFTED in categories


def test_keyboard_reaches_and_opens_a_finding(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha")
    frame.evaluate(
        """() => [...document.querySelectorAll("button.ki-finding")]
             .find((b) => b.dataset.kind === "dead_units").focus()"""
    )
    before = render_state(frame)["rendered"]
    frame.locator("button.ki-finding:focus").press("Enter")
    wait_render_after(frame, before, "pressing Enter on a finding")
    assert frame.locator("#ki-layer").input_value() == DEAD_LAYER


def test_runs_without_findings_say_so_in_one_line(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "plain")
    state = findings_of(frame)
    assert state["items"] == [] and state["empty"] == ["No findings for the selected runs"]
    assert state["more"] is None and state["count"] == ""


def test_several_runs_are_headed_by_their_names(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha", "gamma", "plain")
    state = findings_of(frame)
    assert "alpha" in state["headings"], state
    assert {i["run"] for i in state["items"]} <= {"alpha", "gamma"}
    clean = frame.evaluate(
        "() => [...document.querySelectorAll('.ki-findings-clean')].map(p => p.textContent)"
    )
    assert clean and "plain" in clean[0]
    if state["more"]:
        assert len(state["items"]) <= 6
        before = len(state["items"])
        frame.locator(".ki-findings-more").click()
        expanded = findings_of(frame)
        assert len(expanded["items"]) > before and expanded["more"] == "show fewer"


_CKA_STEPS_JS = """() => {
  const div = document.querySelector('[data-chart="cka_previous"]');
  return {traces: div.data.map((t) => ({layer: t.meta.layer, run: t.meta.run,
                                         x: Array.from(t.x), y: Array.from(t.y)})),
          range: div._fullLayout.yaxis.range,
          paths: div.querySelectorAll(".main-svg g.trace path").length};
}"""

_CKA_RUNS_JS = """() => {
  const section = document.querySelector('section.ki-panel[data-panel="cka_runs"]');
  const div = section.querySelector('[data-chart="cka_matrix"]');
  return {
    refused: [...section.querySelectorAll("p.ki-refused")].map((p) => p.textContent),
    heatmap: div ? {z: div.data[0].z, x: div.data[0].x, y: div.data[0].y,
                    zmin: div.data[0].zmin, zmax: div.data[0].zmax,
                    images: div.querySelectorAll(".main-svg .hm image").length} : null,
  };
}"""


def test_cka_panels_draw_a_line_per_layer_and_a_unit_diagonal(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha")
    lines = frame.evaluate(_CKA_STEPS_JS)
    assert sorted(t["layer"] for t in lines["traces"]) == sorted(LAYERS)
    for trace in lines["traces"]:
        assert trace["x"] == STEPS[1:]  # no value at the first checkpoint
        assert all(0 <= y <= 1.0005 for y in trace["y"]), trace
    assert lines["range"] == [0, 1.02] and lines["paths"] > 0
    matrix = frame.evaluate(_CKA_RUNS_JS)
    assert matrix["refused"] == []
    heat = matrix["heatmap"]
    assert heat and heat["images"] > 0 and (heat["zmin"], heat["zmax"]) == (0, 1)
    assert heat["x"] == LAYERS and heat["y"] == LAYERS
    assert [round(heat["z"][i][i], 3) for i in range(len(LAYERS))] == [1.0] * len(LAYERS)


def test_two_runs_on_the_same_rows_are_compared(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha", "beta")
    matrix = frame.evaluate(_CKA_RUNS_JS)
    assert matrix["refused"] == [] and matrix["heatmap"], matrix
    z = np.array(matrix["heatmap"]["z"], dtype=float)
    assert z.shape == (4, 4) and ((z >= -1e-3) & (z <= 1 + 1e-3)).all()
    assert not np.allclose(np.diag(z), 1.0)  # two different trainings


def test_runs_on_different_rows_show_the_refusal_not_a_heatmap(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "alpha", "gamma")
    matrix = frame.evaluate(_CKA_RUNS_JS)
    assert matrix["heatmap"] is None, "a heatmap was drawn for runs on different rows"
    assert matrix["refused"] == [
        "runs alpha and gamma recorded CKA on different rows (different datasets, max_samples "
        "or seed): their layers cannot be compared"
    ]


def test_a_long_list_is_folded_until_show_all(findings_board, open_page):
    _, frame = open_tab(open_page, findings_board, "dying")
    folded = findings_of(frame)
    total = int(folded["more"].split()[-1])
    assert len(folded["items"]) == 6 < total, folded
    assert folded["more"] == f"show all {total}"
    frame.locator(".ki-findings-more").click()
    expanded = findings_of(frame)
    assert len(expanded["items"]) == total and expanded["more"] == "show fewer"
    dead = {i["layer"] for i in expanded["items"] if i["kind"] == "dead_units"}
    assert dead == set(LAYERS)
    frame.locator(".ki-findings-more").click()
    assert len(findings_of(frame)["items"]) == 6


def test_new_checkpoints_bring_new_findings_after_a_reload(findings_board, open_page):
    page, frame = open_tab(open_page, findings_board, "live")
    before = findings_of(frame)
    assert not [i for i in before["items"] if i["kind"] == "dead_units"], before
    version = frame.evaluate("() => document.querySelector('#ki-findings').dataset.kiVersion")
    write_run(os.path.join(findings_board.logdir, "live"), "live", LIVE_STEPS)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        listed = {e["run"]: e["steps"] for e in findings_board.get_json("runs")["runs"]}
        if LIVE_STEPS[-1] in listed["live"]:
            break
        assert time.monotonic() < deadline, f"/runs never listed step {LIVE_STEPS[-1]}: {listed}"
        time.sleep(0.3)
    page.locator(".reload-button").click()
    frame.wait_for_function(
        """(v) => { const s = document.querySelector('#ki-findings');
                    return s.dataset.kiState === 'drawn' && s.dataset.kiVersion !== v; }""",
        arg=version,
        timeout=TIMEOUT_S * 1000,
    )
    dead = [i for i in findings_of(frame)["items"] if i["kind"] == "dead_units"]
    assert [(i["layer"], i["step"]) for i in dead] == [(LIVE_LAYER, str(LIVE_STEPS[0]))]
