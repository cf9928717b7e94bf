"""The benchmark scripts run (their figures are read by people, never asserted as times)."""

from __future__ import annotations

import pytest

from benchmarks import overhead


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--model", "digits", "--quantities", "full"]])
def test_overhead_benchmark_runs_and_reports_every_figure(capsys, args):
    result = overhead.main(["--quick", *args])
    printed = capsys.readouterr().out
    assert set(result["medians"]) == {"plain", "inspect", "inspect_sync", "tb_hist"}
    assert result["traces"] == 1
    assert result["floor"] > 0
    for name in ("inspect", "inspect_sync"):
        assert result["phases"][name]["total"] > 0
    assert "training-thread part" in printed and "tb_hist" in printed
