"""The plugin latency benchmark runs end to end on a tiny logdir (its times are never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks import plugin_latency

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.browser
def test_plugin_latency_benchmark_calls_every_route_and_renders(tmp_path):
    # A subprocess, as a user runs it: Playwright's sync API cannot start twice in one thread
    # (the browser tests may hold it open in this process).
    figures = tmp_path / "figures.json"
    script = os.path.join(REPO, "benchmarks", "plugin_latency.py")
    argv = ["--quick", "--runs", "2", "--steps", "5", "--repeats", "3", "--json", str(figures)]
    done = subprocess.run(
        [sys.executable, script, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert done.returncode == 0, f"benchmark failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads(figures.read_text())

    labels = set(result["statuses"])
    assert {"runs", "logs (loss panel)"} <= labels
    for quantity in plugin_latency.VALUE_QUANTITIES:
        assert {f"values {quantity} (newest)", f"values {quantity} (scrubbing)"} <= labels
    failures = [f for entry in result["routes"].values() for f in entry["failures"]]
    assert result["statuses"] == {label: [200] for label in labels}, failures
    assert sum(len(entry["times"]) for entry in result["routes"].values()) >= 3 * len(
        {label.split(" (")[0] for label in labels}
    )

    render = result["render"]
    assert render["cold_seconds"] > 0 and render["warm_seconds"] > 0
    assert render["requests"], "the dashboard made no request to the plugin"
    assert all(status < 400 for status, _ in render["requests"]), render["requests"]
    assert not render["errors"], render["errors"]
    # The route table measures every kind of call the dashboard made while rendering.
    assert render["unmeasured"] == []
    assert "p95" in done.stdout and "first full render" in done.stdout
