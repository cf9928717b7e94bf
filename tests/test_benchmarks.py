"""The benchmark scripts run (their figures are read by people, never asserted as times)."""

from __future__ import annotations

import pytest

from benchmarks import overhead, scale


@pytest.mark.slow
# The full preset's slow work may outlast fit on a busy machine: said, and finished later.
@pytest.mark.filterwarnings("ignore:keras_inspect. work on the .* is still running")
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


@pytest.mark.slow
def test_scale_benchmark_measures_a_real_model_in_its_own_process(capsys):
    [result] = scale.main(["--quick", "--only", "transformer", "--rows", "32"])
    printed = capsys.readouterr().out
    assert result["name"] == "transformer" and result["rows"] == {"train": 32, "test": 32}
    for key in (
        "extra_peak",
        "train_peak",
        "checkpoint_first",
        "checkpoint_later",
        "predict",
        "bytes_per_checkpoint",
        "setup",
        "first_epoch",
        "close",
    ):
        assert result[key] == result[key], key  # measured (not NaN)
    assert result["predict"] > 0 and result["bytes_per_checkpoint"] > 0
    assert "transformer" in printed and "+peak" in printed


@pytest.mark.slow
def test_overhead_benchmark_measures_another_backend_in_its_own_process(capsys):
    result = overhead.main(["--quick", "--backend", "torch", "--model", "ctr", "--rounds", "2"])
    printed = capsys.readouterr().out
    row = result["table"]["torch", "ctr"]
    assert set(row) == {"inspect", "inspect_sync", "traces"}, printed
    assert "ctr model on torch" in printed and "torch       ctr" in printed
