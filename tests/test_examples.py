"""Every example runs with --quick, and what it records is complete.

The examples are trained once per session by the ``example_runs`` fixture (arguments in
``tests/example_runs.py``), in subprocesses, exactly as ``main(argv)``; these tests read what
each one returned and wrote.
"""

from __future__ import annotations

import sys

import pytest

import keras_inspect as ki


@pytest.mark.slow
def test_ctr_drift_quick_records_every_standard_quantity(example_runs):
    # 1,000 rows per quick test day: the callback's samples are the whole test sets.
    aucs = example_runs.results["ctr"]
    assert set(aucs) == {"train", *(f"test{d}" for d in range(1, 9))}
    frame = ki.load(example_runs.logdir("ctr"))
    assert set(frame.run) == {"ctr"}
    assert sorted(frame.step.unique()) == [0, 1, 2]
    assert set(frame.dataset) - {""} == set(aucs)
    inspected = frame[frame.quantity != "model_layers"]
    assert set(inspected.layer) - {""} == {"dense_1", "dense_2", "dense_3", "dense_4", "ctr"}
    # The model overview lists every layer, the 34 embeddings and the concatenation too.
    overview = frame[frame.quantity == "model_layers"].set_index("layer")
    assert {"h0", "dense_1", "ctr"} <= set(overview.index) and len(overview) > 34
    assert overview.loc["dense_1", "type"] == "Dense"
    assert list(overview.loc["dense_1", "value"][1:]) == [272 * 256 + 256, 256]
    expected = set(ki.PRESETS["standard"]) - {"probe_r2"}
    assert expected <= set(frame.quantity)
    assert {"loss", "val_loss"} <= set(frame.quantity)
    probes = frame[(frame.quantity == "probe_auc") & (frame.step == 2)]
    assert len(probes) == 9 * 5
    from examples import replication

    claims = replication.ctr_claims(frame)
    assert [c.split(" (")[0] for c in claims] == [
        "Guo Fig. 1",
        "Guo Fig. 10",
        "Guo Fig. 11",
        "Guo Fig. 7",
    ]
    # On whole test sets the recorded model AUC is the AUC the example computes after training.
    final = frame[(frame.quantity == "model_auc") & (frame.step == 2)].set_index("dataset").value
    for name, auc in aucs.items():
        if name != "train":
            assert final[name] == pytest.approx(auc, abs=1e-4), name


@pytest.mark.slow
def test_timeseries_conv1d_quick_records_the_tsviz_quantities(example_runs):
    from examples import timeseries_conv1d

    errors = example_runs.results["ts"]  # --quick --epochs 3
    assert set(errors) == {"train", "test"}
    assert errors["train"] < 0.05  # scaled units: the series' variance is 1
    frame = ki.load(example_runs.logdir("ts"))
    assert sorted(frame.step.unique()) == [0, 1, 2]
    classifier_only = {
        "model_auc",
        "probe_auc",
        "confusion_matrix",
        "entropy_label_given_pred",
        "entropy_pred_given_label",
    }
    expected = set(ki.PRESETS["full"]) - classifier_only
    assert expected <= set(frame.quantity), expected - set(frame.quantity)
    assert not classifier_only & set(frame.quantity)  # a regressor: left out, not failed
    inter = frame[(frame.quantity == "entropy_inter") & (frame.step == 2)]
    assert set(inter.layer) == {"input", "conv_1", "conv_2", "conv_3", "forecast"}
    intra = frame[frame.quantity == "entropy_intra"]
    assert set(intra.layer) == {"conv_1", "conv_2", "conv_3"} and set(intra["class"]) == {"all"}
    importance = frame[(frame.quantity == "filter_importance") & (frame.step == 2)]
    assert set(importance.layer) == {"conv_1", "conv_2", "conv_3"}
    assert {len(v) for v in importance[importance.layer == "conv_1"].value} == {16}
    maps = frame[(frame.quantity == "input_saliency") & (frame.layer == "")]
    assert {v.shape for v in maps.value} == {(timeseries_conv1d.WINDOW, 2)}
    groups = frame[frame.quantity == "feature_saliency"].group
    assert set(groups) == {"input"}


@pytest.mark.slow
def test_digits_cnn_quick_reproduces_the_growth_of_input_entropy(example_runs):
    entropies = example_runs.results["digits"]  # --quick --epochs 2
    values = list(entropies.values())  # 25, 50, 100 and all (~126) training images per class
    assert values == sorted(values) and values[0] < values[-1] - 1.0, entropies
    frame = ki.load(example_runs.logdir("digits"))
    expected = set(ki.PRESETS["full"]) - {"probe_r2"}
    assert expected <= set(frame.quantity), expected - set(frame.quantity)
    confusion = frame[(frame.quantity == "confusion_matrix") & (frame.dataset == "test")]
    assert {v.shape for v in confusion.value} == {(10, 10)}
    intra = frame[(frame.quantity == "entropy_intra") & (frame.layer == "conv_2")]
    assert set(intra["class"]) == {"all", *(str(c) for c in range(10))}
    capacity = frame[frame.quantity == "channel_capacity"]
    assert set(capacity["pair"]) == {"conv_1->conv_2"}
    assert {v.shape for v in capacity.value} == {(16, 32)}
    # The replication report reads the same run (docs/replication.md).
    from examples import replication

    lines = replication.digits_claims(frame)
    assert any(line.startswith("CNNSlicer 5.1") and "per_class_all" in line for line in lines)
    assert any(line.startswith("Guo Fig. 9") for line in lines), lines  # the projections
    assert any(line.startswith("Iuzzolino") for line in lines), lines


@pytest.mark.slow
def test_compare_runs_trains_the_two_variants_into_one_logdir(example_runs):
    results = example_runs.results["compare"]  # --quick --epochs 1
    assert set(results) == {"ctr_4_layers", "ctr_3_layers"}
    frame = ki.load(example_runs.logdir("compare"))
    from examples import replication

    assert len(replication.compare_claims(frame)) == 2
    layers = frame[frame.quantity == "neuron_mean"].groupby("run").layer.unique()
    assert "dense_4" in set(layers["ctr_4_layers"])
    assert "dense_4" not in set(layers["ctr_3_layers"])  # the paper's layer 4, removed


def test_the_demo_trains_every_example_in_order_with_progress(tmp_path, monkeypatch, capsys):
    from examples import compare_runs, ctr_drift, demo, digits_cnn, timeseries_conv1d

    calls = []
    for module in (ctr_drift, compare_runs, timeseries_conv1d, digits_cnn):
        monkeypatch.setattr(
            module,
            "main",
            lambda argv, callbacks_for, name=module.__name__: calls.append((name, argv)),
        )
    titles = demo.main(["--logdir", str(tmp_path), "--no-serve"])
    assert [name.split(".")[-1] for name, _ in calls] == [
        "ctr_drift",
        "compare_runs",
        "timeseries_conv1d",
        "digits_cnn",
    ]
    assert calls[0][1] == ["--logdir", str(tmp_path / "ctr")]  # the CTR run the tab opens on
    assert all(str(tmp_path) in argv[1] for _, argv in calls)  # one logdir for every run
    # The comparison never repeats the ctr run (the paper's four layers on seed 0).
    assert calls[1][1][2:4] == ["--variants", "ctr_3_layers,ctr_4_layers_seed1"]
    printed = capsys.readouterr().out
    assert f"[1/{len(titles)}] {titles[0]}" in printed and "[4/4] done in" in printed
    assert "everything is trained" in printed
    assert demo.inspect_url("http://localhost:6006/") == (
        "http://localhost:6006/?inspect_run=ctr#keras_inspect"
    )


def test_a_missing_optional_dependency_names_the_extra_to_install(monkeypatch):
    from examples import timeseries_conv1d

    monkeypatch.setitem(sys.modules, "statsmodels", None)
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    with pytest.raises(SystemExit, match=r"pip install 'keras-inspect\[examples\]'"):
        timeseries_conv1d.load_co2()
