"""ki.findings on synthetic trainings whose diagnoses are known, the rules on hand-made frames,
the CKA records against a brute-force recomputation, and the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import keras_inspect as ki
from keras_inspect.__main__ import main
from keras_inspect.quantities.similarity import centred_gram, drift_effect, gram_cka
from tb_plugin.findings import FINDING_COLUMNS, diagnose
from tests import finding_runs

WARNING_OR_WORSE = ("warning", "alert")


def dead_layer(root, name="dead", **kwargs):
    return finding_runs.dead_layer(root, name, **kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("findings"))
    keras.utils.set_random_seed(0)
    models = {
        "memorise": finding_runs.memorising_ctr(root),
        "dead": dead_layer(root),
        "solved": finding_runs.solved_early(root),
        "control": finding_runs.healthy_control(root),
    }
    return root, models, ki.findings(root)


def of(found: pd.DataFrame, run: str, kind: str | None = None) -> pd.DataFrame:
    part = found[found["run"] == run]
    return part if kind is None else part[part["kind"] == kind]


def test_the_frame_has_the_documented_columns_and_order(trained):
    _, _, found = trained
    assert tuple(found.columns) == FINDING_COLUMNS
    assert set(found["severity"]) <= {"alert", "warning", "info"}
    assert found["step"].dtype == np.int64
    for _, part in found.groupby("run"):
        ranks = part["severity"].map({"alert": 0, "warning": 1, "info": 2}).tolist()
        assert ranks == sorted(ranks)
    assert all(message.endswith(".") and len(message) > 30 for message in found["message"])


def test_memorised_user_ids_give_memorisation_of_that_group_and_overfitting(trained):
    _, _, found = trained
    memorised = of(found, "memorise", "memorisation")
    assert list(memorised["subject"]) == ["emb_user_id"]  # and no other group
    assert memorised["severity"].iloc[0] == "alert"
    assert memorised["group"].iloc[0] == "emb_user_id"
    assert "emb_user_id" in memorised["message"].iloc[0]
    overfit = of(found, "memorise", "overfitting")
    assert len(overfit) == 1
    assert overfit["subject"].iloc[0] in {"test1", "test2"}
    assert overfit["dataset"].iloc[0] == overfit["subject"].iloc[0]
    # The held-out days are drawn like train: their growing gap is memorisation, not drift.
    assert of(found, "memorise", "drift").empty


def test_a_dead_layer_is_named_and_its_healthy_neighbour_is_not(trained):
    _, _, found = trained
    dead = of(found, "dead", "dead_units")
    assert list(dead["subject"]) == ["dead"]
    assert dead["severity"].iloc[0] == "alert"
    assert dead["step"].iloc[0] == 0
    assert "100%" in dead["message"].iloc[0]


def test_shifted_serving_data_drifts_and_the_unshifted_test_set_does_not(trained):
    _, _, found = trained
    drift = of(found, "solved", "drift")
    assert list(drift["subject"]) == ["serving"]
    assert drift["severity"].iloc[0] == "warning"
    assert drift["layer"].iloc[0].startswith("dense_")


def test_layers_after_one_that_solves_the_task_are_redundant_and_the_first_is_not(trained):
    _, _, found = trained
    redundant = of(found, "solved", "redundant_layer")
    assert set(redundant["subject"]) == {"dense_2", "dense_3", "dense_4"}
    assert (redundant["severity"] == "info").all()


def test_a_healthy_regularised_training_raises_no_warning_or_alert(trained):
    _, _, found = trained
    control = of(found, "control")
    assert not control["severity"].isin(WARNING_OR_WORSE).any(), control.to_string()
    solved = of(found, "solved")
    assert set(solved.loc[solved["severity"].isin(WARNING_OR_WORSE), "kind"]) == {"drift"}


def test_thresholds_are_tunable(trained):
    root, _, _ = trained
    loose = ki.findings(root, thresholds=ki.Thresholds(drift_warning=5.0, dead_warning=1.0))
    assert of(loose, "solved", "drift").empty
    assert list(of(loose, "dead", "dead_units")["subject"]) == ["dead"]  # 100% >= 1.0
    strict = ki.findings(root, thresholds=ki.Thresholds(probe_margin=0.2))
    assert "dense_1" in set(of(strict, "memorise", "redundant_layer")["subject"]) | {"dense_1"}
    with pytest.raises(ValueError, match="dead_warning must be a number >= 0; got -1"):
        ki.Thresholds(dead_warning=-1)
    with pytest.raises(ki.ConfigError, match="thresholds must be a keras_inspect.Thresholds"):
        ki.findings(root, thresholds={"dead_warning": 0.3})


def test_cka_records_match_a_recomputation_from_the_layers_outputs(trained):
    root, models, _ = trained
    model, datasets = models["dead"]
    frame = ki.load(os.path.join(root, "dead"))
    last = frame["step"].max()
    grams = frame[(frame["quantity"] == "cka_gram") & (frame["step"] == last)]
    assert set(grams["dataset"]) == {"train"}
    # A layer that never fires has all rows alike: no CKA and no drift (nothing varies), quietly.
    assert set(grams["layer"]) == {"healthy", "out"}
    assert "dead" not in set(frame.query("quantity == 'drift'")["layer"])
    x = datasets["train"][0][:256]  # 1,500 rows < max_samples: the sample is the data
    for layer in ("healthy", "out"):
        stored = grams.loc[grams["layer"] == layer, "value"].iloc[0]
        assert stored.shape == (256, 256)
        outputs = keras.Model(model.input, model.get_layer(layer).output)(x)
        want = centred_gram(keras.ops.convert_to_numpy(outputs))
        np.testing.assert_allclose(stored, want, atol=2e-3)
        assert gram_cka(stored, stored) == pytest.approx(1.0, abs=1e-9)
    # drift against NumPy on the same activations (both samples are the whole datasets).
    healthy = keras.Model(model.input, model.get_layer("healthy").output)
    on_train, on_test = (
        keras.ops.convert_to_numpy(healthy(datasets[name][0])).astype(np.float64)
        for name in ("train", "test")
    )
    want = drift_effect(
        on_test.mean(0),
        on_test.std(0),
        len(on_test),
        on_train.mean(0),
        on_train.std(0),
        len(on_train),
    )
    drift = frame.query("quantity == 'drift' and layer == 'healthy' and step == @last")
    assert drift["value"].iloc[0] == pytest.approx(want, abs=1e-4)
    previous = frame[(frame["quantity"] == "cka_previous") & (frame["layer"] == "healthy")]
    first = frame["step"].min()
    assert first not in set(previous["step"])  # nothing to compare with at the first checkpoint
    by_step = frame[(frame["quantity"] == "cka_gram") & (frame["layer"] == "healthy")]
    grams_at = dict(zip(by_step["step"], by_step["value"], strict=True))
    for step, value in zip(previous["step"], previous["value"], strict=True):
        before = max(s for s in grams_at if s < step)
        assert value == pytest.approx(gram_cka(grams_at[before], grams_at[step]), abs=1e-6)
        assert 0.0 <= value <= 1.0


def test_the_rows_fingerprint_tells_identical_rows_from_different_ones(trained, tmp_path):
    root, _, _ = trained
    dead_layer(str(tmp_path), "again")
    dead_layer(str(tmp_path), "fewer", max_samples=300)

    def fingerprint(path):
        frame = ki.load(path)
        rows = frame[frame["quantity"] == "cka_rows"]
        assert set(rows["dataset"]) == {"train"}
        return rows["value"].iloc[-1]

    same = fingerprint(os.path.join(root, "dead"))
    assert same.dtype == np.int32 and same.shape == (4,)
    np.testing.assert_array_equal(fingerprint(str(tmp_path / "again")), same)
    assert not np.array_equal(fingerprint(str(tmp_path / "fewer")), same)

    # ki.cka: a run with itself, two checkpoints of a run, a repeat of it, and a refusal.
    frame = pd.concat([ki.load(os.path.join(root, "dead")), ki.load(tmp_path)])
    last = int(frame.query("run == 'dead'")["step"].max())
    itself = ki.cka(frame, "dead", last)
    assert list(itself.index) == ["healthy", "out"] == list(itself.columns)  # model order
    np.testing.assert_allclose(np.diag(itself.to_numpy()), 1.0, atol=1e-9)
    np.testing.assert_allclose(itself.to_numpy(), itself.to_numpy().T, atol=1e-12)
    assert itself.attrs == {"steps": (last, last), "rows": 256}
    grams = frame.query("run == 'dead' and quantity == 'cka_gram' and layer == 'healthy'")
    by_step = dict(zip(grams["step"], grams["value"], strict=True))
    earlier = ki.cka(frame, "dead", last, other_step=0)
    assert earlier.loc["healthy", "healthy"] == pytest.approx(
        gram_cka(by_step[last], by_step[0]), abs=1e-12
    )
    repeat = ki.cka(frame, "dead", last, "again")
    np.testing.assert_allclose(np.diag(repeat.to_numpy()), 1.0, atol=1e-3)
    with pytest.raises(ki.ConfigError, match="recorded CKA on different rows"):
        ki.cka(frame, "dead", last, "fewer")
    with pytest.raises(ki.ConfigError, match="no run 'nope'"):
        ki.cka(frame, "nope", last)
    with pytest.raises(ki.ConfigError, match=r"step must be a checkpoint step.*got '3'"):
        ki.cka(frame, "dead", "3")
    with pytest.raises(ki.ConfigError, match="has no cka_gram at or before step 0"):
        ki.cka(frame[frame["step"] > 0], "dead", 0)


def test_an_empty_directory_gives_an_empty_frame_and_a_missing_one_an_error(tmp_path):
    empty = ki.findings(tmp_path)
    assert empty.empty and tuple(empty.columns) == FINDING_COLUMNS
    missing = tmp_path / "no_such_dir"
    with pytest.raises(ki.ConfigError, match="no_such_dir.*found nothing"):
        ki.findings(missing)


def test_the_command_line_exits_non_zero_on_an_alert(trained, tmp_path, capsys):
    root, _, _ = trained
    assert main(["findings", root]) == 1
    out = capsys.readouterr().out
    assert "run memorise" in out and "ALERT" in out and "emb_user_id" in out
    control = tmp_path / "control_only"
    shutil.copytree(os.path.join(root, "control"), control / "control")
    assert main(["findings", str(control)]) == 0
    assert main(["findings", str(control), "--fail-on", "info"]) == 1
    assert main(["findings", root, "--fail-on", "never"]) == 0
    capsys.readouterr()
    assert main(["findings", root, "--format", "json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"run", "step", "kind", "severity", "subject", "message"} <= set(rows[0])
    assert main(["findings", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.slow
def test_python_dash_m_runs_the_command(trained):
    root, _, _ = trained
    done = subprocess.run(
        [sys.executable, "-m", "keras_inspect", "findings", os.path.join(root, "dead")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "dead_units" in done.stdout


# Rules on hand-made frames ----------------------------------------------------------------------


def frame_of(rows) -> pd.DataFrame:
    columns = ["run", "step", "dataset", "layer", "quantity", "value", "group"]
    return pd.DataFrame([(*row, None) if len(row) == 6 else row for row in rows], columns=columns)


def test_a_condition_that_stops_holding_is_not_a_finding():
    auc = {0: (0.80, 0.70), 1: (0.85, 0.75), 2: (0.90, 0.70), 3: (0.92, 0.78)}
    rows = [("r", s, "train", "", "model_auc", a) for s, (a, _) in auc.items()]
    rows += [("r", s, "test", "", "model_auc", b) for s, (_, b) in auc.items()]
    assert diagnose(frame_of(rows)).empty  # test fell at step 2, recovered at 3
    rows.append(("r", 4, "train", "", "model_auc", 0.95))
    rows.append(("r", 4, "test", "", "model_auc", 0.76))
    found = diagnose(frame_of(rows))
    assert list(found["kind"]) == ["overfitting"]
    assert found["step"].iloc[0] == 4 and found["severity"].iloc[0] == "warning"
    assert "0.780 -> 0.760" in found["message"].iloc[0]


def test_overfitting_from_keras_losses_without_model_auc():
    losses = [(1.0, 1.1), (0.6, 0.8), (0.4, 0.85), (0.3, 0.95)]
    rows = [("r", s, "", "", "loss", a) for s, (a, _) in enumerate(losses)]
    rows += [("r", s, "", "", "val_loss", b) for s, (_, b) in enumerate(losses)]
    found = diagnose(frame_of(rows))
    assert list(found["kind"]) == ["overfitting"] and found["step"].iloc[0] == 2
    assert found["subject"].iloc[0] == "validation"


def test_a_jump_in_dead_units_and_non_finite_rows():
    dead = [0.05, 0.06, 0.40, 0.42]
    rows = [("r", s, "train", "d1", "dead_fraction", v) for s, v in enumerate(dead)]
    rows += [("r", s, "train", "d0", "dead_fraction", 0.1) for s in range(4)]
    rows += [
        ("r", 3, "test", "d1", "nonfinite_rows", 12.0),
        ("r", 2, "test", "d1", "nonfinite_rows", 0.0),
    ]
    found = diagnose(frame_of(rows))
    assert list(found["kind"]) == ["non_finite", "dead_units"]
    assert list(found["severity"]) == ["alert", "warning"]
    assert found["subject"].iloc[1] == "d1" and found["step"].iloc[1] == 2
    assert "12 rows of test" in found["message"].iloc[0]


def test_frozen_and_unstable_representations_from_cka():
    steps = range(1, 10)
    frozen = [0.9, 0.99, 0.9995, 0.9996, 0.9998, 0.9999, 0.9999, 0.9999, 0.9999]
    moving = [0.7, 0.8, 0.85, 0.9, 0.92, 0.95, 0.96, 0.97, 0.97]
    shaky = [0.5, 0.6, 0.7, 0.8, 0.8, 0.7, 0.9, 0.4, 0.3]
    rows = []
    for name, values in (("a", frozen), ("b", moving), ("c", shaky)):
        rows += [
            ("r", s, "train", name, "cka_previous", v) for s, v in zip(steps, values, strict=True)
        ]
    found = diagnose(frame_of(rows), layer_order={"r": ["a", "b", "c"]})
    kinds = dict(zip(found["subject"], found["kind"], strict=True))
    assert kinds == {"a": "representation_frozen", "c": "representation_unstable"}
    assert found.set_index("subject").loc["a", "step"] == 3
    assert found.set_index("subject").loc["c", "step"] == 8


def test_a_preset_leaves_out_the_grams_of_many_layers_and_says_so(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential(
        [keras.Input((6,))]
        + [keras.layers.Dense(8, activation="tanh", name=f"d{i}") for i in range(9)]
        + [keras.layers.Dense(1, activation="sigmoid", name="out")]
    )
    model.compile("adam", "binary_crossentropy")
    datasets = {"train": (x, y), "test": (x[::-1], y[::-1])}
    with pytest.warns(ki.LeftOutWarning, match=r"leaving out \['cka_gram'\] because the 10"):
        callback = ki.InspectCallback(tmp_path / "preset", datasets, asynchronous=False)
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    quantities = set(ki.load(tmp_path / "preset")["quantity"])
    assert "cka_previous" in quantities and not {"cka_gram", "cka_rows"} & quantities
    listed = ki.InspectCallback(
        tmp_path / "listed", datasets, quantities=["cka_gram"], asynchronous=False
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[listed])
    grams = ki.load(tmp_path / "listed").query("quantity == 'cka_gram'")
    assert len(grams) == 10 and grams["value"].iloc[0].shape == (256, 256)
