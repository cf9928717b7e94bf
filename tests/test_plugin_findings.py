"""The /findings and /cka routes through werkzeug's test client, on logdirs written here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from keras_inspect.writer import InspectWriter
from tb_plugin import diagnoses, metadata
from tests.test_plugin import BASE, get, serve

COLUMNS = ("run", "step", "kind", "severity", "subject", "message", "dataset", "layer", "group")


class FakeRules:
    """Stands in for tb_plugin.findings.diagnose: records each frame, returns set findings.

    Its findings: one per (layer) whose dead_fraction reaches 0.9, an alert at the first such
    step, plus a fixed info and warning, in an order the route must sort.
    """

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []
        self.orders: list[dict] = []

    def __call__(self, frame, layer_order=None, thresholds=None):
        self.frames.append(frame)
        self.orders.append(layer_order)
        (run,) = frame.run.unique()
        rows = [
            (run, 3, "drift", "info", "test", "test drifts", "test", "", ""),
            (run, 1, "overfitting", "warning", "model", "test AUC falls", "test", "", None),
        ]
        dead = frame[frame.quantity == "dead_fraction"]
        dead = dead[dead.value.astype(float) >= 0.9]
        for layer, part in dead.groupby("layer", sort=False):
            first = int(part.step.min())
            rows.append((run, first, "dead_units", "alert", layer, "dead", "train", layer, ""))
        return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture
def rules(monkeypatch) -> FakeRules:
    fake = FakeRules()
    monkeypatch.setattr(diagnoses, "_default_diagnose", lambda: fake)
    return fake


def write_training(path, steps, dead=(0.1, 0.2, 0.95)):
    with InspectWriter(path) as writer:
        if 0 in steps:  # the model overview, written with the first checkpoint
            for position, (layer, kind) in enumerate((("d1", "Dense"), ("d2", "Dense"))):
                shape = np.array([position, 10.0, 4.0])
                writer.write(0, "model_layers", shape, layer=layer, type=kind)
        for step in steps:
            for dataset in ("train", "test"):
                writer.write(step, "model_auc", 0.7 + 0.01 * step, dataset=dataset)
                for layer in ("d1", "d2"):
                    value = dead[step] if layer == "d2" and dataset == "train" else 0.0
                    writer.write(step, "dead_fraction", value, dataset=dataset, layer=layer)
                    writer.write(step, "layer_std", 1.0, dataset=dataset, layer=layer)
            writer.write(step, "drift", 0.1 * step, dataset="test", layer="d1")
            for group in ("age", "income"):
                writer.write(step, "feature_saliency", 0.5, dataset="train", group=group)
            writer.write_scalar(step, metadata.keras_log_tag("loss"), 1.0 / (step + 1))
            writer.write_scalar(step, metadata.keras_log_tag("val_loss"), 1.0 + step)


def test_findings_are_sorted_by_severity_then_step_and_read_the_rules_quantities(tmp_path, rules):
    write_training(tmp_path / "a", range(3))
    client, _, _ = serve(tmp_path)
    status, answer = get(client, "findings", run="a")
    assert status == 200
    (part,) = answer["runs"]
    assert part["run"] == "a"
    assert [(f["severity"], f["kind"], f["step"]) for f in part["findings"]] == [
        ("alert", "dead_units", 2),
        ("warning", "overfitting", 1),
        ("info", "drift", 3),
    ]
    assert part["findings"][0] == {
        "step": 2,
        "kind": "dead_units",
        "severity": "alert",
        "subject": "d2",
        "message": "dead",
        "dataset": "train",
        "layer": "d2",
        "group": "",
    }
    assert part["findings"][1]["group"] == ""  # None becomes ""
    (frame,) = rules.frames
    assert list(frame.columns) == [
        "run",
        "step",
        "dataset",
        "layer",
        "quantity",
        "value",
        "group",
        "type",
    ]
    assert set(frame.quantity) == {
        "model_layers",
        "model_auc",
        "dead_fraction",
        "drift",
        "feature_saliency",
        "loss",
        "val_loss",
    }  # layer_std is not read by the rules
    saliency = frame[frame.quantity == "feature_saliency"]
    assert sorted(set(saliency.group)) == ["age", "income"] and len(saliency) == 6
    assert frame[frame.quantity != "feature_saliency"].group.isna().all()
    loss = frame[frame.quantity == "val_loss"].sort_values("step")
    assert loss.value.tolist() == [1.0, 2.0, 3.0] and set(loss.layer) == {""}
    layers = frame[frame.quantity == "model_layers"]
    assert layers.layer.tolist() == ["d1", "d2"] and set(layers.type) == {"Dense"}
    assert layers.value.iloc[1].tolist() == [1.0, 10.0, 4.0]  # as ki.load: an array
    assert frame[frame.quantity != "model_layers"].type.isna().all()
    assert frame.step.dtype == np.int64
    assert rules.orders == [{"a": ["d1", "d2"]}]


def test_findings_are_computed_once_per_data_version_and_again_on_new_checkpoints(tmp_path, rules):
    write_training(tmp_path / "a", range(2), dead=(0.1, 0.2, 0.95, 0.99))
    write_training(tmp_path / "b", range(3))
    client, _, mux = serve(tmp_path)
    answer = json.loads(client.get(f"{BASE}/findings?run=b&run=a").get_data())
    assert [p["run"] for p in answer["runs"]] == ["b", "a"]  # in the asked order
    assert [f["kind"] for f in answer["runs"][1]["findings"]] == ["overfitting", "drift"]
    assert len(rules.frames) == 2
    for _ in range(3):
        assert get(client, "findings", run="a")[0] == 200
    assert len(rules.frames) == 2  # nothing changed: the cached findings
    write_training(tmp_path / "a", [2])  # a new checkpoint: d2 dies
    mux.Reload()
    get(client, "runs")  # the dashboard lists again on TensorBoard's reload
    status, answer = get(client, "findings", run="a")
    assert [(f["kind"], f["step"]) for f in answer["runs"][0]["findings"]][0] == ("dead_units", 2)
    assert len(rules.frames) == 3  # run a only
    assert get(client, "findings", run="b")[0] == 200 and len(rules.frames) == 3
    # A new epoch of Keras' logs alone is a new version too.
    with InspectWriter(tmp_path / "b") as writer:
        writer.write_scalar(3, metadata.keras_log_tag("val_loss"), 9.0)
    mux.Reload()
    get(client, "runs")
    get(client, "findings", run="b")
    assert len(rules.frames) == 4 and rules.frames[-1].step.max() == 3


def test_a_run_without_the_rules_quantities_has_no_findings(tmp_path, rules):
    with InspectWriter(tmp_path / "a") as writer:
        writer.write(0, "layer_std", 0.5, dataset="train", layer="d")
    client, _, _ = serve(tmp_path)
    assert get(client, "findings", run="a") == (200, {"runs": [{"run": "a", "findings": []}]})
    assert rules.frames == []


@pytest.mark.parametrize(
    ("route", "params", "status", "text"),
    [
        ("findings", {}, 400, "missing query parameter 'run'"),
        ("findings", {"run": "nope"}, 404, "no keras_inspect run"),
        ("cka", {"run": "a"}, 400, "missing query parameter 'step'"),
        ("cka", {"step": "1"}, 400, "missing query parameter 'run'"),
        ("cka", {"run": "a", "step": "-1"}, 400, "non-negative"),
        ("cka", {"run": "nope", "step": "1"}, 404, "no keras_inspect run"),
        ("cka", {"run": "plain", "step": "1"}, 404, "has no 'cka_gram'"),
    ],
)
def test_bad_parameters_are_4xx(tmp_path, rules, route, params, status, text):
    write_training(tmp_path / "a", range(1))
    write_training(tmp_path / "plain", range(1))
    client, _, _ = serve(tmp_path)
    code, body = get(client, route, **params)
    assert code == status
    assert text in str(body)


def test_logs_of_keras_tensorboard_callback_become_loss_and_val_loss():
    series = [
        {"name": "loss", "source": "train", "steps": [0, 1], "values": [0.5, 0.4]},
        {"name": "loss", "source": "validation", "steps": [0, 1], "values": [0.6, None]},
        {"name": "auc", "source": "train", "steps": [0], "values": [0.9]},
        {"name": "loss", "source": "inspect", "steps": [0, 1], "values": [0.55, 0.45]},
    ]
    rows = diagnoses._log_rows("r", series)
    by_name = {}
    for run, step, dataset, layer, name, value, group, kind in rows:
        assert (run, dataset, layer, group, kind) == ("r", "", "", None, None)
        by_name.setdefault(name, []).append((step, value))
    assert by_name["loss"] == [(0, 0.55), (1, 0.45)]  # the callback's own copy first
    assert by_name["val_loss"][0] == (0, 0.6) and np.isnan(by_name["val_loss"][1][1])
    assert set(by_name) == {"loss", "val_loss"}


def test_real_rules_find_a_layer_that_died_as_ki_findings_does(tmp_path):
    import keras_inspect as ki
    from tb_plugin.findings import diagnose

    write_training(tmp_path / "a", range(3))
    client, _, _ = serve(tmp_path)
    status, answer = get(client, "findings", run="a")
    assert status == 200
    findings = answer["runs"][0]["findings"]
    dead = [f for f in findings if f["kind"] == "dead_units"]
    assert dead and dead[0]["layer"] == "d2" and dead[0]["step"] == 2, findings
    ranks = [{"alert": 0, "warning": 1, "info": 2}[f["severity"]] for f in findings]
    assert ranks == sorted(ranks)
    assert all(set(f) == set(diagnoses.FINDING_FIELDS) for f in findings)
    # The same findings as the rules give on ki.load's frame of the logdir.
    expected = diagnose(ki.load(tmp_path))
    assert [(f["kind"], f["step"], f["layer"], f["message"]) for f in findings] == [
        (row.kind, row.step, row.layer, row.message) for row in expected.itertuples()
    ]


# ----- /cka --------------------------------------------------------------------------------------


def centred_gram(features: np.ndarray) -> np.ndarray:
    centred = features - features.mean(axis=0)
    gram = centred @ centred.T
    return gram / np.linalg.norm(gram)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al.'s linear CKA from features: ||Yc^T Xc||_F^2 / (||Xc^T Xc|| ||Yc^T Yc||)."""
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    return cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def write_grams(path, steps, rows=24, seed=0, fingerprint=(1, 2, 3, 4), layers=("l1", "l2", "l3")):
    """Writes cka_gram of related layers (l2 a noisy copy of l1, l3 unrelated) at ``steps``;
    returns {step: {layer: features}}."""
    rng = np.random.default_rng(seed)
    written = {}
    with InspectWriter(path) as writer:
        for step in steps:
            base = rng.normal(size=(rows, 6))
            features = {
                "l1": base,
                "l2": base @ rng.normal(size=(6, 9)) + 0.3 * rng.normal(size=(rows, 9)),
                "l3": rng.normal(size=(rows, 5)),
            }
            written[step] = {layer: features[layer] for layer in layers}
            for layer in layers:
                gram = centred_gram(features[layer]).astype(np.float32)
                writer.write(step, "cka_gram", gram, dataset="train", layer=layer)
            writer.write(step, "cka_rows", np.array(fingerprint, np.int32), dataset="train")
            writer.write(step, "layer_std", 1.0, dataset="train", layer=layers[0])
    return written


def stored_cka(path, step, layer_a, layer_b):
    """CKA from the Grams as ki.load reads them back (float16)."""
    import keras_inspect as ki

    frame = ki.load(path)
    grams = frame[(frame.quantity == "cka_gram") & (frame.step == step)].set_index("layer").value
    a, b = grams[layer_a].astype(np.float64), grams[layer_b].astype(np.float64)
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_run_with_itself_has_a_unit_diagonal_and_matches_numpy(tmp_path):
    features = write_grams(tmp_path / "a", range(3))
    client, _, _ = serve(tmp_path)
    for params in ({"run": "a"}, {"run": ["a", "a"]}):
        status, answer = get(client, "cka", step=1, **params)
        assert status == 200
        assert answer["runs"] == ["a", "a"] and answer["steps"] == [1, 1]
        assert answer["layers"] == [["l1", "l2", "l3"], ["l1", "l2", "l3"]]
        assert answer["datasets"] == ["train", "train"]
        assert answer["rows"] == 24 and answer["refused"] is None
        matrix = np.array(answer["matrix"])
        np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-6)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-9)
    for i, la in enumerate(("l1", "l2", "l3")):
        for j, lb in enumerate(("l1", "l2", "l3")):
            assert matrix[i, j] == pytest.approx(stored_cka(tmp_path / "a", 1, la, lb), abs=1e-6)
            # float16 storage keeps CKA from the features themselves to ~1e-3
            expected = linear_cka(features[1][la], features[1][lb])
            assert matrix[i, j] == pytest.approx(expected, abs=2e-3)
    assert matrix[0, 1] > 0.7 > matrix[0, 2]  # related layers score high, unrelated ones low


def test_two_runs_on_the_same_rows_are_compared_at_matched_steps(tmp_path):
    features_a = write_grams(tmp_path / "a", [0, 5, 10], seed=1)
    features_b = write_grams(tmp_path / "b", [0, 5], seed=2, layers=("l1", "l3"))
    client, _, _ = serve(tmp_path)
    status, answer = get(client, "cka", run=["a", "b"], step=7)
    assert status == 200 and answer["refused"] is None
    assert answer["steps"] == [5, 5]
    assert answer["layers"] == [["l1", "l2", "l3"], ["l1", "l3"]]
    matrix = np.array(answer["matrix"])
    assert matrix.shape == (3, 2)
    for i, la in enumerate(("l1", "l2", "l3")):
        for j, lb in enumerate(("l1", "l3")):
            expected = linear_cka(features_a[5][la], features_b[5][lb])
            assert matrix[i, j] == pytest.approx(expected, abs=2e-3)
    newest = get(client, "cka", run=["a", "b"], step=99)[1]
    assert newest["steps"] == [10, 5]  # each run's latest checkpoint at or before the step
    assert get(client, "cka", run=["b", "a"], step=99)[1]["layers"][0] == ["l1", "l3"]
    code, body = get(client, "cka", run=["a", "b", "a"], step=1)  # repeats dropped
    assert code == 200
    assert get(client, "cka", run=["a", "b", "c"], step=1)[0] in (400, 404)


def test_runs_recorded_on_different_rows_are_refused(tmp_path):
    write_grams(tmp_path / "a", range(2), fingerprint=(1, 2, 3, 4))
    write_grams(tmp_path / "b", range(2), fingerprint=(1, 2, 3, 5))
    write_grams(tmp_path / "c", range(2), rows=30, fingerprint=(1, 2, 3, 4))
    client, _, _ = serve(tmp_path)
    for other in ("b", "c"):
        status, answer = get(client, "cka", run=["a", other], step=1)
        assert status == 200
        assert answer["refused"] == (
            f"runs a and {other} recorded CKA on different rows (different datasets, "
            "max_samples or seed): their layers cannot be compared"
        )
        assert answer["matrix"] is None and answer["rows"] is None
        assert answer["layers"] == [["l1", "l2", "l3"]] * 2
    assert get(client, "cka", run="b", step=1)[1]["refused"] is None  # itself: always


def test_a_run_without_a_fingerprint_is_refused_against_another(tmp_path):
    write_grams(tmp_path / "a", range(2))
    with InspectWriter(tmp_path / "b") as writer:
        for step in range(2):
            gram = centred_gram(np.random.default_rng(step).normal(size=(24, 3)))
            writer.write(step, "cka_gram", gram.astype(np.float32), dataset="train", layer="x")
    client, _, _ = serve(tmp_path)
    answer = get(client, "cka", run=["a", "b"], step=1)[1]
    assert answer["matrix"] is None and "run b recorded no cka_rows" in answer["refused"]
    assert get(client, "cka", run="b", step=1)[1]["matrix"] == [[1.0]]


def test_cka_before_the_first_gram_is_404_and_a_zero_gram_is_null(tmp_path):
    write_grams(tmp_path / "a", [3, 4])
    with InspectWriter(tmp_path / "a") as writer:
        writer.write(5, "cka_gram", np.zeros((24, 24), np.float32), dataset="train", layer="l1")
        for layer in ("l2", "l3"):
            gram = centred_gram(np.random.default_rng(5).normal(size=(24, 3)))
            writer.write(5, "cka_gram", gram.astype(np.float32), dataset="train", layer=layer)
    client, _, _ = serve(tmp_path)
    code, body = get(client, "cka", run="a", step=2)
    assert code == 404 and "at or before step 2" in body
    matrix = get(client, "cka", run="a", step=5)[1]["matrix"]
    assert matrix[0] == [None, None, None] and [row[0] for row in matrix] == [None] * 3
    assert matrix[1][1] == pytest.approx(1.0)


def test_grams_written_in_parts_are_read_at_the_step_asked(tmp_path):
    rows = 80  # 6,400 numbers: stored in parts of metadata.PART_POINTS checkpoints
    assert rows * rows > metadata.PART_MIN_SIZE
    steps = list(range(0, metadata.PART_POINTS + 3))
    features = write_grams(tmp_path / "a", steps, rows=rows, layers=("l1", "l2"))
    client, _, _ = serve(tmp_path)
    for step in (1, metadata.PART_POINTS + 1, 999):
        answer = get(client, "cka", run="a", step=step)[1]
        at = min(step, steps[-1])
        assert answer["steps"] == [at, at] and answer["rows"] == rows
        expected = linear_cka(features[at]["l1"], features[at]["l2"])
        assert answer["matrix"][0][1] == pytest.approx(expected, abs=2e-3)


def test_checkpoint_steps_do_not_come_from_a_quantity_that_starts_late(tmp_path):
    # cka_previous has no value at the first checkpoint, and sorts before every other tag.
    write_grams(tmp_path / "a", range(3))
    with InspectWriter(tmp_path / "a") as writer:
        for step in (1, 2):
            writer.write(step, "cka_previous", 0.9, dataset="train", layer="l1")
    client, _, _ = serve(tmp_path)
    assert get(client, "runs")[1]["runs"][0]["steps"] == [0, 1, 2]
