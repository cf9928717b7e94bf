"""The Inspect tab in a real browser: shared logdirs, tensorboard processes and one Chromium.

Everything expensive is made once per session and shared by every test:

* a logdir with two runs of the CTR example (``ctr`` and ``ctr2``, two seeds), one of the
  time-series example (``ts``) and one of the digits CNN (``digits``, both the ``full``
  preset), copied from the session's ``example_runs`` (``tests/example_runs.py``), and a small
  synthetic run whose name is an HTML tag;
* one ``tensorboard`` per ``--load_fast`` mode on its own copy of that logdir (the live-update
  test appends to its copy), and one per mode on a logdir with nothing but a Keras scalar;
* one headless Chromium. Each test opens its own page (a fresh browser context).

Every page records console errors, uncaught exceptions, failed plugin requests and dialogs; an
autouse fixture fails the test when anything was logged.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator

import pytest

from benchmarks.plugin_latency import (
    ALL_PANELS_DRAWN,
    MISSING_BROWSER,
    RENDERED_AT_LEAST,
    ROUTE_PREFIX,
    TensorBoard,
    fetch,
    launch_chromium,
    plugin_frame,
    write_synthetic_run,
)
from tests.example_runs import CTR_STEPS

LOAD_FAST_MODES = ("true", "false")
HOSTILE_RUN = "<img src=x onerror=alert(1)>"
CTR_RUNS = ("ctr", "ctr2")
TS_RUN = "ts"  # the TSViz-shaped Conv1D forecaster: input saliency and filter clusters
DIGITS_RUN = "digits"  # the digits CNN: prediction entropies and the confusion matrix
ALL_RUNS = (*CTR_RUNS, TS_RUN, DIGITS_RUN, HOSTILE_RUN)
DIGITS_STEPS = [0, 1]  # --epochs 2 (tests/example_runs.py)
TIMEOUT_S = 30


def wait_for_runs(board: TensorBoard, expected: dict[str, list[int]]) -> None:
    """Waits until /runs lists every expected run with (at least) its steps."""
    deadline = time.monotonic() + 90
    last = "no answer"
    while time.monotonic() < deadline:
        status, body, _ = fetch(board.route("runs"))
        if status == 200:
            listed = {entry["run"]: entry.get("steps") for entry in json.loads(body)["runs"]}
            last = f"/runs lists {listed}"
            if all(set(steps) <= set(listed.get(run) or ()) for run, steps in expected.items()):
                return
        else:
            last = f"/runs -> {status}: {body[:300]!r}"
        if board.process.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(
        f"tensorboard --load_fast={board.load_fast} never listed the runs {sorted(expected)} "
        f"({last}). Is the keras_inspect entry point registered?\n"
        f"tensorboard log:\n{board.log_text()[-3000:]}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def servers(tmp_path_factory, example_runs) -> Iterator[dict[tuple[str, str], TensorBoard]]:
    """Every tensorboard of the session, keyed by (logdir kind, load_fast mode)."""
    root = str(tmp_path_factory.mktemp("ki_browser"))
    for run in (*CTR_RUNS, TS_RUN, DIGITS_RUN):
        source = os.path.join(example_runs.logdir(run), run)
        shutil.copytree(source, os.path.join(root, "logs", run))
    write_synthetic_run(os.path.join(root, "logs", HOSTILE_RUN), CTR_STEPS, seed=7)
    steps = {run: CTR_STEPS for run in ALL_RUNS} | {DIGITS_RUN: DIGITS_STEPS}
    # A logdir without any keras_inspect data: only a Keras loss as a native scalar.
    from keras_inspect.writer import InspectWriter
    from tb_plugin.metadata import keras_log_tag

    with InspectWriter(os.path.join(root, "empty", "run")) as writer:
        writer.write_scalar(0, keras_log_tag("loss"), 0.5)

    boards: dict[tuple[str, str], TensorBoard] = {}
    try:
        for mode in LOAD_FAST_MODES:
            copy = os.path.join(root, f"logs_load_fast_{mode}")
            shutil.copytree(os.path.join(root, "logs"), copy)
            boards["ctr", mode] = TensorBoard(copy, mode, reload_interval=1)
            boards["empty", mode] = TensorBoard(
                os.path.join(root, "empty"), mode, reload_interval=1
            )
        for board in boards.values():
            board.wait_ready()
        for mode in LOAD_FAST_MODES:
            wait_for_runs(boards["ctr", mode], steps)
        yield boards
    finally:
        for board in boards.values():
            board.stop()


@pytest.fixture(scope="session", params=LOAD_FAST_MODES, ids=lambda m: f"load_fast={m}")
def board(request, browser, servers) -> TensorBoard:
    """tensorboard on ctr, ctr2 and the hostile run, once per --load_fast mode.

    ``browser`` comes first so that a missing Chromium fails before any training starts.
    """
    return servers["ctr", request.param]


@pytest.fixture(scope="session")
def fast_board(browser, servers) -> TensorBoard:
    """tensorboard on the same logdir, ``--load_fast=true`` only.

    For tests of one panel's interaction: reading through either data provider is covered by
    the tests on ``board`` (``test_every_panel_draws_data`` draws every panel in both modes).
    """
    return servers["ctr", "true"]


@pytest.fixture(scope="session", params=LOAD_FAST_MODES, ids=lambda m: f"load_fast={m}")
def empty_board(request, browser, servers) -> TensorBoard:
    """tensorboard on a logdir whose only data is a native Keras scalar."""
    return servers["empty", request.param]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None:
        pytest.fail(f"Python Playwright is not installed. {MISSING_BROWSER}", pytrace=False)
    with sync_playwright() as playwright:
        problem = None
        try:
            chromium = launch_chromium(playwright)
        except RuntimeError as error:
            problem = str(error)
        if problem:  # failed outside the except block: no chained traceback in the report
            pytest.fail(problem, pytrace=False)
        yield chromium
        chromium.close()


class PageLog:
    """What the pages of one test logged: errors (of any frame) and dialogs."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught exception: {error}"))
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"console.error {message.text!r} (at {where})")

    def _response(self, response) -> None:
        if ROUTE_PREFIX in response.url and response.status >= 400:
            self.errors.append(f"HTTP {response.status} for {response.url}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture(autouse=True)
def _no_console_errors(page_log: PageLog) -> Iterator[None]:
    """Fails the test when one of its pages logged an error or opened a dialog."""
    yield
    problems = page_log.errors + [f"dialog opened: {d}" for d in page_log.dialogs]
    if problems:
        pytest.fail("the page logged:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def open_page(browser, page_log: PageLog) -> Iterator[Callable[..., object]]:
    """Opens a fresh page (new browser context) at a URL; pages close after the test."""
    pages = []

    def open_(url: str, height: int = 1200, init_script: str | None = None):
        page = browser.new_page(viewport={"width": 1600, "height": height})
        if init_script:
            page.add_init_script(init_script)
        page.set_default_timeout(TIMEOUT_S * 1000)
        page_log.attach(page)
        pages.append(page)
        page.goto(url)
        return page

    yield open_
    for page in pages:
        page.context.close()


@pytest.fixture
def dashboard(open_page) -> Callable[..., tuple[object, object]]:
    """Opens ``#keras_inspect`` on a tensorboard; returns (page, plugin frame).

    With ``rendered=True`` it waits for the first full render (``kiRendered >= 1``) and for
    the panels out of view, which are drawn after it.
    """

    def open_(board: TensorBoard, rendered: bool = True):
        page = open_page(f"{board.url}#keras_inspect")
        try:
            frame = plugin_frame(page, TIMEOUT_S)
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        if rendered:
            frame.wait_for_function(RENDERED_AT_LEAST, arg=1, timeout=TIMEOUT_S * 1000)
            frame.wait_for_function(ALL_PANELS_DRAWN, timeout=TIMEOUT_S * 1000)
        return page, frame

    return open_
