"""Feature-group saliency of tables in a real TensorBoard: a bar per column, sorted, named by the
DataFrame's columns; past the panel's limit the rest is one summary row, all on request.

Two small runs made here: breast cancer (30 columns, one made informative) and digits (64
pixel columns). Run with ``.venv/bin/python -m pytest tests/browser/test_saliency_tabular.py``.
"""

from __future__ import annotations

import os
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

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TOP_GROUPS = 34  # tb_plugin/static/panels/saliency.js
INFORMATIVE = 7  # breast cancer's column made informative
STEPS = {"bc": [0, 1, 2], "digits": [0, 1]}


def _train_runs(root: str) -> list[str]:
    """Trains both runs into ``root``; returns breast cancer's column names."""
    import keras
    from sklearn.datasets import load_digits

    import keras_inspect as ki
    from tests.test_tabular_groups import breast_cancer_with_one_informative_column, table_model

    keras.utils.set_random_seed(0)
    frame, y = breast_cancer_with_one_informative_column(INFORMATIVE)
    model = table_model(30)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    datasets = {"train": (frame[:400], y[:400]), "test": (frame[400:], y[400:])}
    callback = ki.InspectCallback(
        os.path.join(root, "bc"), datasets, quantities=["feature_saliency", "model_auc"]
    )
    epochs = len(STEPS["bc"])
    model.fit(frame.to_numpy()[:400], y[:400], epochs=epochs, verbose=0, callbacks=[callback])

    pixels, digits = load_digits(return_X_y=True)
    pixels = (pixels / 16.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    callback = ki.InspectCallback(
        os.path.join(root, "digits"), {"train": (pixels, digits)}, quantities=["feature_saliency"]
    )
    epochs = len(STEPS["digits"])
    model.fit(pixels, digits, epochs=epochs, verbose=0, callbacks=[callback])
    return list(frame.columns)


@pytest.fixture(scope="module")
def tabular(browser, tmp_path_factory) -> Iterator[tuple[TensorBoard, list[str]]]:
    """tensorboard on the two table runs, and breast cancer's column names."""
    root = str(tmp_path_factory.mktemp("ki_tabular"))
    columns = _train_runs(root)
    board = TensorBoard(root, "true", reload_interval=1)
    try:
        board.wait_ready()
        wait_for_runs(board, STEPS)
        yield board, columns
    finally:
        board.stop()


def _saliency_of(open_page, board: TensorBoard, run: str):
    page = open_page(f"{board.url}?inspect_run={run}#keras_inspect")
    frame = plugin_frame(page, TIMEOUT_S)
    frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
    frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
    return frame


# What the bar chart drew: its y tick labels (top to bottom) and each trace's rows and meta.
_BARS_JS = """
() => {
  const div = document.querySelector("[data-chart=saliency_bars]");
  const ticks = [...div.querySelectorAll(".yaxislayer-above .ytick text")]
    .map((t) => ({label: t.textContent, y: t.getBoundingClientRect().y}))
    .sort((a, b) => a.y - b.y).map((t) => t.label);
  const traces = div.data.map((t) => ({dataset: t.meta.dataset, y: t.y, x: t.x,
    groups: t.meta.groups, summarised: t.meta.summarised, hatch: t.marker.pattern.shape}));
  const heat = document.querySelector("[data-chart=saliency_heatmap]");
  return {ticks, traces, heatRows: heat ? heat.data[0].y : null,
          choice: document.querySelector("p[data-choice=groups] select") !== null};
}
"""


def test_thirty_columns_are_thirty_sorted_bars_named_by_the_dataframe(tabular, open_page):
    board, columns = tabular
    frame = _saliency_of(open_page, board, "bc")
    drawn = frame.evaluate(_BARS_JS)
    train = next(t for t in drawn["traces"] if t["dataset"] == "train")
    # every column a row, named as in the DataFrame, drawn on the axis top to bottom
    assert sorted(drawn["ticks"]) == sorted(columns), drawn["ticks"]
    assert drawn["ticks"] == train["y"] and train["summarised"] == 0
    assert drawn["heatRows"] == train["y"]
    # most salient first (the cursor is at the newest checkpoint, the ranking's own step)
    assert train["x"] == sorted(train["x"], reverse=True), train["x"]
    assert train["y"][0] == columns[INFORMATIVE]
    assert set(train["hatch"]) == {""}
    assert not drawn["choice"]  # nothing to summarise, nothing to choose


def test_sixty_four_columns_are_the_top_ones_and_the_rest_as_one_row(tabular, open_page):
    board, _ = tabular
    frame = _saliency_of(open_page, board, "digits")
    top = frame.evaluate(_BARS_JS)
    [train] = top["traces"]
    rest = 64 - TOP_GROUPS
    assert len(top["ticks"]) == TOP_GROUPS + 1 and top["ticks"][-1] == f"+{rest} more: mean"
    assert top["ticks"] == train["y"] and top["heatRows"] == train["y"]
    assert train["hatch"] == [""] * TOP_GROUPS + ["/"]  # the summary row never reads as a group
    assert train["summarised"] == rest and len(train["groups"]) == 64
    assert train["x"][:TOP_GROUPS] == sorted(train["x"][:TOP_GROUPS], reverse=True)
    assert top["choice"]
    # all 64 on request: the summary row is the mean of the groups it stood for
    frame.locator("p[data-choice=groups] select").select_option("all")
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=saliency_bars]').data[0].y.length === 64",
        timeout=TIMEOUT_S * 1000,
    )
    frame.wait_for_function(
        "() => document.querySelector('[data-chart=saliency_heatmap]').data[0].y.length === 64",
        timeout=TIMEOUT_S * 1000,
    )
    every = frame.evaluate(_BARS_JS)
    [whole] = every["traces"]
    assert every["ticks"] == whole["y"] == train["groups"]
    assert whole["x"][:TOP_GROUPS] == train["x"][:TOP_GROUPS]
    assert train["x"][-1] == pytest.approx(np.mean(whole["x"][TOP_GROUPS:]), rel=1e-9)
