"""Plugin routes through werkzeug's test client, on a logdir made by the CTR example."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider as provider_lib
from tensorboard.backend.event_processing import plugin_event_multiplexer as multiplexer_lib
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test
from werkzeug import wrappers

from keras_inspect.writer import InspectWriter
from tb_plugin import loader, metadata
from tb_plugin.plugin import InspectPlugin

BASE = "/data/plugin/keras_inspect"


def serve(logdir, warm_quiet=3600.0):
    """A test client of the plugin on ``logdir``. Background whole-series reads wait for
    ``warm_quiet`` seconds without requests: never, by default, so that the tests counting
    provider calls see only the requests' own."""
    mux = multiplexer_lib.EventMultiplexer(
        tensor_size_guidance={metadata.PLUGIN_NAME: 0, "scalars": 0}
    )
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = provider_lib.MultiplexerDataProvider(mux, str(logdir))
    context = base_plugin.TBContext(logdir=str(logdir), data_provider=provider)
    plugin = InspectPlugin(context)
    plugin._warmer.quiet = warm_quiet
    app = application.TensorBoardWSGI([plugin], data_provider=provider)
    return werkzeug_test.Client(app, wrappers.Response), plugin, mux


def get(client, route, **params):
    response = client.get(f"{BASE}/{route}", query_string=params)
    body = response.get_data()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.status_code, json.loads(body)
    return response.status_code, body.decode("utf-8", "replace")


def record_calls(provider, method, what):
    """Wraps ``provider.<method>``; returns the list of ``what(kwargs)`` of every call made."""
    calls = []
    real = getattr(provider, method)

    def recording(*args, **kwargs):
        calls.append(what(kwargs))
        return real(*args, **kwargs)

    setattr(provider, method, recording)
    return calls


@pytest.fixture(scope="module")
def ctr_logdir(example_runs):
    """The quick CTR example's logdir (3 checkpoints, shared with other tests: read only)."""
    return example_runs.logdir("ctr")


@pytest.fixture(scope="module")
def client(ctr_logdir):
    return serve(ctr_logdir)[0]


@pytest.mark.slow
def test_runs_lists_axes_in_model_and_user_order(client):
    status, answer = get(client, "runs")
    assert status == 200 and answer["version"] == metadata.FORMAT_VERSION
    (run,) = answer["runs"]
    assert run["run"] == "ctr"
    assert run["steps"] == [0, 1, 2]
    assert run["datasets"] == ["train", *(f"test{d}" for d in range(1, 9))]
    assert run["layers"] == ["dense_1", "dense_2", "dense_3", "dense_4", "ctr"]
    assert {"model_auc", "neuron_mean", "correlation_matrix", "probe_auc"} <= set(run["quantities"])
    assert run["classes"] == ["0", "1"]
    assert {"loss", "val_loss"} <= set(run["logs"])
    by_quantity = run["quantity_layers"]
    assert by_quantity["neuron_mean"] == run["layers"]
    # The output layer has one unit: no filter importance for it.
    assert by_quantity["filter_importance"] == ["dense_1", "dense_2", "dense_3", "dense_4"]
    assert "model_auc" not in by_quantity  # not recorded per layer


@pytest.mark.slow
def test_scalars_match_what_ki_load_reads(client, ctr_logdir):
    import keras_inspect as ki

    frame = ki.load(ctr_logdir)
    status, answer = get(client, "scalars", run="ctr", quantity="probe_auc")
    assert status == 200
    (part,) = answer["runs"]
    assert part["run"] == "ctr" and len(part["series"]) == 9 * 5
    first = part["series"][0]
    assert (first["layer"], first["dataset"]) == ("dense_1", "train")
    expected = frame[
        (frame.quantity == "probe_auc") & (frame.layer == "dense_1") & (frame.dataset == "train")
    ].sort_values("step")
    assert first["steps"] == expected.step.tolist()
    np.testing.assert_allclose(first["values"], expected.value.astype(float), rtol=1e-6)


@pytest.mark.slow
def test_values_pick_the_latest_checkpoint_at_or_before_step(client, ctr_logdir):
    import keras_inspect as ki

    frame = ki.load(ctr_logdir)
    status, answer = get(
        client,
        "values",
        run="ctr",
        quantity="neuron_mean",
        step=500,
        layer="dense_4",
        dataset="test3",
    )
    assert status == 200 and answer["step"] == 2
    (cell,) = answer["cells"]
    expected = frame[
        (frame.quantity == "neuron_mean")
        & (frame.layer == "dense_4")
        & (frame.dataset == "test3")
        & (frame.step == 2)
    ].value.iloc[0]
    assert cell["shape"] == [32]
    np.testing.assert_allclose(cell["values"], expected, atol=1e-4)
    status, answer = get(
        client,
        "values",
        run="ctr",
        quantity="correlation_matrix",
        step=0,
        layer="dense_2",
        dataset="train",
    )
    assert answer["step"] == 0 and answer["cells"][0]["shape"] == [128, 128]
    status, answer = get(
        client, "values", run="ctr", quantity="model_score_histogram", step=1, dataset="test1"
    )
    assert sorted(c["extra"]["class"] for c in answer["cells"]) == ["0", "1"]
    assert all(c["shape"][1] == 3 for c in answer["cells"])


@pytest.mark.slow
def test_logs_come_from_the_callback_and_from_keras_runs(client):
    status, answer = get(client, "logs", run="ctr")
    assert status == 200
    (part,) = answer["runs"]
    sources = {(s["name"], s["source"]) for s in part["series"]}
    assert {("loss", "inspect"), ("loss", "train"), ("loss", "validation")} <= sources
    assert all(len(s["steps"]) == len(s["values"]) == 3 for s in part["series"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("route", "params", "status", "text"),
    [
        ("scalars", {"quantity": "model_auc"}, 400, "missing query parameter 'run'"),
        ("scalars", {"run": "ctr"}, 400, "missing query parameter 'quantity'"),
        ("scalars", {"run": "ctr", "quantity": "<b>"}, 400, "not a quantity name"),
        ("scalars", {"run": "nope", "quantity": "model_auc"}, 404, "no keras_inspect run"),
        ("scalars", {"run": "ctr", "quantity": "neuron_mean"}, 404, "has a scalar quantity"),
        (
            "values",
            {"run": "ctr", "quantity": "neuron_mean"},
            400,
            "missing query parameter 'step'",
        ),
        ("values", {"run": "ctr", "quantity": "neuron_mean", "step": "-1"}, 400, "non-negative"),
        ("scalars", {"run": "ctr", "quantity": "model_auc", "step": "x"}, 400, "non-negative"),
        ("values", {"run": "ctr", "quantity": "neuron_mean", "step": "1e3"}, 400, "non-negative"),
        ("values", {"run": "ctr", "quantity": "model_auc", "step": "1"}, 404, "no array quantity"),
        (
            "values",
            {"run": "ctr", "quantity": "neuron_mean", "step": "1", "layer": "x"},
            404,
            "for layer 'x'",
        ),
        ("logs", {"run": "nope"}, 404, "no keras_inspect run"),
        ("static/../plugin.py", {}, 404, ""),
        ("static/nothing.js", {}, 404, "no static file"),
    ],
)
def test_bad_parameters_are_4xx(client, route, params, status, text):
    code, body = get(client, route, **params)
    assert code == status
    assert text in str(body)


def test_hostile_names_are_data_and_newer_formats_are_skipped(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    with InspectWriter(tmp_path / hostile) as writer:
        writer.write(
            0, "neuron_mean", np.array([1.0, np.float32(2.5)]), dataset="a&b", layer="<script>"
        )
        writer.write(0, "model_auc", 0.75, dataset="a&b")
        writer.write_scalar(0, metadata.keras_log_tag("loss"), 0.5)
    client, _, _ = serve(tmp_path)
    status, answer = get(client, "runs")
    (run,) = answer["runs"]
    assert run["run"] == hostile and run["layers"] == ["<script>"] and run["datasets"] == ["a&b"]
    status, answer = get(client, "values", run=hostile, quantity="neuron_mean", step=0)
    assert answer["cells"][0]["values"] == [1.0, 2.5]


def test_an_empty_logdir_has_no_runs(tmp_path):
    client, plugin, _ = serve(tmp_path)
    assert get(client, "runs") == (200, {"version": metadata.FORMAT_VERSION, "runs": []})
    assert plugin.data_plugin_names() == (metadata.PLUGIN_NAME, "scalars")
    assert plugin.frontend_metadata().tab_name == "Inspect"


def test_static_files_and_plotly_are_served(tmp_path):
    client, _, _ = serve(tmp_path)
    response = client.get(f"{BASE}/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"].startswith("text/javascript")
    plain = client.get(f"{BASE}/vendor/plotly.min.js")
    assert b"plotly" in plain.get_data()[:2000].lower()
    # The cartesian bundle when the build fetched it (setup.py), else the full one.
    from tb_plugin import chart_bundle

    with open(chart_bundle.bundle_path(), "rb") as handle:
        assert plain.get_data() == handle.read()
    expected = "plotly-cartesian" if chart_bundle.has_cartesian() else "plotly.min.js"
    assert chart_bundle.bundle_path().rsplit("/", 1)[-1].startswith(expected)


def test_loader_keeps_every_checkpoint_unless_told_otherwise():
    class Flags:
        samples_per_plugin = {"images": 5}

    flags = Flags()
    loader.InspectLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {"images": 5, "keras_inspect": 0}
    flags.samples_per_plugin = {"keras_inspect": 7}
    loader.InspectLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {"keras_inspect": 7}


def test_tensor_cache_rereads_only_changed_series_and_bounds_its_memory(tmp_path):
    from tb_plugin import data

    with InspectWriter(tmp_path / "run") as writer:
        for step in range(3):
            for layer in ("a", "b"):
                writer.write(step, "neuron_mean", np.full(1000, step, np.float32), layer=layer)
    client, plugin, mux = serve(tmp_path)
    provider = plugin._provider
    calls = record_calls(provider, "read_tensors", lambda kw: kw["run_tag_filter"].tags)
    for step in (0, 2, 1):
        status, answer = get(client, "values", run="run", quantity="neuron_mean", step=step)
        assert status == 200 and answer["cells"][0]["values"][0] == step
    assert len(calls) == 1  # later steps came from the cache
    scalar_calls = record_calls(provider, "read_scalars", lambda kw: kw["run_tag_filter"].tags)
    with InspectWriter(tmp_path / "run") as writer:
        writer.write(0, "layer_std", 0.5, dataset="train", layer="a")
        writer.write(0, "layer_std", 0.7, dataset="train", layer="b")
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    get(client, "runs")  # reads (and caches) layer_std of layer "a" for the list of steps
    assert scalar_calls == [{"layer_std/train/a"}]
    scalar_calls.clear()
    for _ in range(3):
        assert get(client, "scalars", run="run", quantity="layer_std")[0] == 200
    assert scalar_calls == [{"layer_std/train/b"}]  # only what no request had read before
    from tensorboard import context as tb_context

    ctx = tb_context.RequestContext()
    cache = data.tensor_cache(max_bytes=5000)
    index = data.build_index(provider, ctx, "").run("run")

    def fetch(stale):
        return data._read(
            provider, ctx, "", provider.read_tensors, metadata.PLUGIN_NAME, stale, list
        )

    first, second = [s for s in index.series if not s.is_scalar]
    cache.read("", [("run/inspect", first)], fetch)
    cache.read("", [("run/inspect", second)], fetch)
    assert cache.nbytes == 3 * 1000 * 4  # one series of 3 float32 steps; the older one evicted


def test_new_checkpoints_show_after_runs_is_fetched_again(tmp_path):
    with InspectWriter(tmp_path / "a") as writer:
        writer.write(0, "layer_std", 0.5, dataset="train", layer="d")
        writer.write(0, "neuron_mean", np.ones(3, np.float32), dataset="train", layer="d")
    client, _, mux = serve(tmp_path)
    assert get(client, "runs")[1]["runs"][0]["steps"] == [0]
    with InspectWriter(tmp_path / "a") as writer:
        writer.write(1, "layer_std", 0.7, dataset="train", layer="d")
        writer.write(1, "neuron_mean", np.full(3, 2.0, np.float32), dataset="train", layer="d")
    with InspectWriter(tmp_path / "b") as writer:
        writer.write(0, "layer_std", 0.1, dataset="train", layer="d")
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    # A run the cached listing has never seen is found by listing again.
    assert get(client, "scalars", run="b", quantity="layer_std")[0] == 200
    status, runs = get(client, "runs")
    assert [r["steps"] for r in runs["runs"]] == [[0, 1], [0]]
    status, answer = get(client, "values", run="a", quantity="neuron_mean", step=1)
    assert answer["step"] == 1 and answer["cells"][0]["values"] == [2.0, 2.0, 2.0]


def test_scalars_at_a_step_keep_the_latest_point_at_or_before_it(tmp_path):
    with InspectWriter(tmp_path / "a") as writer:
        for step in (0, 5, 10):
            writer.write(step, "layer_std", step / 10, dataset="train", layer="d")
        writer.write(10, "layer_std", 9.0, dataset="test", layer="d")  # starts late
    client, plugin, _ = serve(tmp_path)
    samples = record_calls(plugin._provider, "read_scalars", lambda kw: kw["downsample"])

    def at(step):
        answer = get(client, "scalars", run="a", quantity="layer_std", step=step)[1]
        return {s["dataset"]: (s["steps"], s["values"]) for s in answer["runs"][0]["series"]}

    get(client, "runs")
    samples.clear()
    assert at(10) == {"train": ([10], [1.0]), "test": ([10], [9.0])}
    assert samples == [1]  # the newest checkpoint: newest points only
    assert at(99) == at(10)
    assert at(7) == {"train": ([5], [0.5]), "test": ([], [])}
    assert samples[-1] > 1  # an older one: the whole series
    assert at(0)["train"] == ([0], [0.0])


def test_several_runs_are_answered_in_one_request(tmp_path):
    for run, value in (("a", 0.5), ("b", 0.25)):
        with InspectWriter(tmp_path / run) as writer:
            writer.write(0, "layer_std", value, dataset="train", layer="d")
            writer.write_scalar(0, metadata.keras_log_tag("loss"), value)
    with InspectWriter(tmp_path / "c") as writer:
        writer.write(0, "dead_fraction", 0.0, dataset="train", layer="d")
    client, _, _ = serve(tmp_path)
    response = client.get(f"{BASE}/scalars?run=b&run=a&run=c&run=b&quantity=layer_std")
    answer = json.loads(response.get_data())
    assert [(p["run"], p["series"][0]["values"]) for p in answer["runs"]] == [
        ("b", [0.25]),
        ("a", [0.5]),
    ]  # in the asked order, repeats dropped, "c" (no layer_std) left out
    narrowed = client.get(f"{BASE}/scalars?run=a&run=b&quantity=layer_std&dataset=test1")
    assert [p["series"] for p in json.loads(narrowed.get_data())["runs"]] == [[], []]
    kept = json.loads(client.get(f"{BASE}/scalars?run=a&quantity=layer_std&layer=d").get_data())
    assert [len(p["series"]) for p in kept["runs"]] == [1]
    logs = json.loads(client.get(f"{BASE}/logs?run=a&run=b").get_data())
    assert [p["run"] for p in logs["runs"]] == ["a", "b"]
    assert client.get(f"{BASE}/scalars?run=a&run=nope&quantity=layer_std").status_code == 404


def test_runs_lists_everything_again_only_when_something_changed(tmp_path):
    def checkpoint(step):
        with InspectWriter(tmp_path / "a") as writer:
            writer.write(step, "layer_std", 0.5 + step, dataset="train", layer="d")
            writer.write(step, "neuron_mean", np.ones(3, np.float32), dataset="train", layer="d")
            writer.write_scalar(step, metadata.keras_log_tag("loss"), 1.0 / (step + 1))

    checkpoint(0)
    client, plugin, mux = serve(tmp_path)
    calls = []  # one entry per listing: whether it was filtered
    for method in ("list_scalars", "list_tensors"):
        record_calls(plugin._provider, method, lambda kw: calls.append(("run_tag_filter" in kw,)))
    assert get(client, "runs")[1]["runs"][0]["steps"] == [0]
    assert [filtered for (filtered,) in calls] == [False] * 3  # first: a full listing
    calls.clear()
    assert get(client, "runs")[1]["runs"][0]["steps"] == [0]
    assert calls and all(filtered for (filtered,) in calls)  # unchanged: only probes
    checkpoint(1)
    mux.Reload()
    calls.clear()
    assert get(client, "runs")[1]["runs"][0]["steps"] == [0, 1]  # a new checkpoint is seen
    assert any(not filtered for (filtered,) in calls)
    # Keras logs that move on without a checkpoint are seen as well, and /logs rereads them.
    loss = get(client, "logs", run="a")[1]["runs"][0]["series"][0]
    assert loss["steps"] == [0, 1]
    with InspectWriter(tmp_path / "a") as writer:
        writer.write_scalar(2, metadata.keras_log_tag("loss"), 0.25)
    mux.Reload()
    get(client, "runs")
    loss = get(client, "logs", run="a")[1]["runs"][0]["series"][0]
    assert loss["steps"] == [0, 1, 2] and loss["values"][-1] == 0.25
    # A listing older than max_unchecked_age is redone even when the probes see no change.
    plugin._indexes.max_unchecked_age = 0.0
    calls.clear()
    get(client, "runs")
    assert any(not filtered for (filtered,) in calls)


def test_logs_are_read_once_until_they_change(tmp_path):
    with InspectWriter(tmp_path / "a") as writer:
        writer.write(0, "layer_std", 0.5, dataset="train", layer="d")
        writer.write_scalar(0, metadata.keras_log_tag("loss"), 0.5)
    client, plugin, mux = serve(tmp_path)
    reads = record_calls(plugin._provider, "read_scalars", lambda kw: kw["plugin_name"])
    for _ in range(3):
        assert get(client, "logs", run="a")[0] == 200
    assert reads.count("scalars") == 1


def test_values_at_the_newest_step_read_only_the_newest_points(tmp_path):
    with InspectWriter(tmp_path / "a") as writer:
        for step in range(4):
            for dataset in ("train", "test"):
                matrix = np.full((3, 3), step + (dataset == "test"), np.float32)
                writer.write(step, "correlation_matrix", matrix, dataset=dataset, layer="d")
    client, plugin, _ = serve(tmp_path)
    samples = record_calls(plugin._provider, "read_tensors", lambda kw: kw["downsample"])
    newest = get(client, "values", run="a", quantity="correlation_matrix", step=99)[1]
    assert newest["step"] == 3 and samples == [1]
    assert {c["dataset"]: c["values"][0][0] for c in newest["cells"]} == {"train": 3, "test": 4}
    past = get(client, "values", run="a", quantity="correlation_matrix", step=1)[1]
    assert past["step"] == 1 and samples[-1] > 1  # the whole series, for scrubbing
    assert {c["dataset"]: c["values"][0][0] for c in past["cells"]} == {"train": 1, "test": 2}
    samples.clear()
    again = get(client, "values", run="a", quantity="correlation_matrix", step=3)[1]
    assert again == newest and samples == []  # now answered from the whole series held


def test_series_shown_at_the_newest_step_are_read_whole_in_the_background(tmp_path):
    with InspectWriter(tmp_path / "a") as writer:
        for step in range(4):
            matrix = np.full((3, 3), step, np.float32)
            writer.write(step, "correlation_matrix", matrix, dataset="train", layer="d")
            writer.write(step, "layer_std", step / 10, dataset="train", layer="d")
            writer.write(step, "dead_fraction", step / 10, dataset="train", layer="d")
            for dataset in ("train", "test"):
                writer.write(step, "correlation_mean_abs", 0.5, dataset=dataset, layer="d")
    client, plugin, _ = serve(tmp_path, warm_quiet=0.05)
    tensors = record_calls(plugin._provider, "read_tensors", lambda kw: kw["downsample"])
    scalars = record_calls(plugin._provider, "read_scalars", lambda kw: kw["downsample"])
    get(client, "runs")  # (reads dead_fraction whole: its steps are the run's checkpoints)
    scalars.clear()
    assert get(client, "values", run="a", quantity="correlation_matrix", step=3)[1]["step"] == 3
    assert get(client, "scalars", run="a", quantity="layer_std", step=3)[0] == 200
    assert plugin._warmer.wait_idle(timeout=30)
    assert tensors[0] == 1 and scalars[0] == 1  # the requests: newest points only
    assert tensors[1:] and scalars[1:] and min(tensors[1:] + scalars[1:]) > 1  # then whole
    tensors.clear()
    scalars.clear()
    # The first move of the cursor is answered from what was read in the background.
    past = get(client, "values", run="a", quantity="correlation_matrix", step=1)[1]
    assert past["step"] == 1 and past["cells"][0]["values"][0][0] == 1.0
    series = get(client, "scalars", run="a", quantity="layer_std", step=1)[1]
    assert series["runs"][0]["series"][0]["values"] == [pytest.approx(0.1)]
    assert tensors == [] and scalars == []
    # Small multiples of one focus dataset: the other datasets are read next, in the background.
    focus = get(client, "scalars", run="a", quantity="correlation_mean_abs", dataset="train")[1]
    assert [s["dataset"] for s in focus["runs"][0]["series"]] == ["train"]
    assert plugin._warmer.wait_idle(timeout=30)
    scalars.clear()
    other = get(client, "scalars", run="a", quantity="correlation_mean_abs", dataset="test")[1]
    assert other["runs"][0]["series"][0]["steps"] == [0, 1, 2, 3]
    assert scalars == []


def test_a_newest_point_past_the_listing_falls_back_to_the_whole_series(tmp_path):
    def write(step):
        with InspectWriter(tmp_path / "a") as writer:
            writer.write(step, "neuron_mean", np.full(2, step, np.float32), layer="d")

    for step in range(3):
        write(step)
    client, plugin, mux = serve(tmp_path)
    get(client, "runs")  # the routes' listing: newest step 2
    write(3)
    mux.Reload()  # a checkpoint the listing does not know yet
    samples = record_calls(plugin._provider, "read_tensors", lambda kw: kw["downsample"])
    answer = get(client, "values", run="a", quantity="neuron_mean", step=2)[1]
    assert answer["step"] == 2 and answer["cells"][0]["values"] == [2.0, 2.0]
    assert samples[0] == 1 and samples[-1] > 1  # the newest point was step 3: read it all


def test_points_out_of_step_order_are_sorted():
    from tb_plugin import data

    Point = collections.namedtuple("Point", "step value")
    points = [Point(2, 0.2), Point(0, float("nan")), Point(1, 0.1)]
    assert data._pairs(points) == ([0, 1, 2], [None, 0.1, 0.2])


def test_history_gives_every_checkpoint_of_each_class_vector(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    with InspectWriter(tmp_path / "a") as writer:
        for step in (0, 2, 5):
            for cls in ("0", "1", "all"):
                vector = rng.random(4).astype(np.float32)
                written[(cls, step)] = vector
                writer.write(
                    step, "entropy_intra", vector, dataset="test", layer="conv", **{"class": cls}
                )
            writer.write(
                step, "entropy_intra", np.ones(4, np.float32), dataset="train", layer="conv"
            )
            writer.write(step, "correlation_matrix", np.eye(3, dtype=np.float32), layer="conv")
    client, _, _ = serve(tmp_path)
    status, answer = get(
        client, "history", run="a", quantity="entropy_intra", dataset="test", layer="conv"
    )
    assert status == 200
    assert (answer["dataset"], answer["layer"]) == ("test", "conv")
    by_class = {c["extra"]["class"]: c for c in answer["cells"]}
    assert set(by_class) == {"0", "1", "all"}
    for cls, cell in by_class.items():
        assert cell["steps"] == [0, 2, 5]
        expected = [written[(cls, step)] for step in (0, 2, 5)]
        np.testing.assert_allclose(cell["values"], expected, atol=1e-4)
    # Matrices are refused (their history is megabytes); unknown names are 404; a missing
    # parameter is 400.
    status, reason = get(
        client, "history", run="a", quantity="correlation_matrix", dataset="", layer="conv"
    )
    assert status == 400 and "/values" in reason
    assert (
        get(client, "history", run="a", quantity="entropy_intra", dataset="x", layer="conv")[0]
        == 404
    )
    assert (
        get(client, "history", run="b", quantity="entropy_intra", dataset="test", layer="conv")[0]
        == 404
    )
    assert get(client, "history", run="a", quantity="entropy_intra", layer="conv")[0] == 400


def test_history_refuses_answers_above_its_size_limit(tmp_path, monkeypatch):
    from tb_plugin import data

    with InspectWriter(tmp_path / "a") as writer:
        for step in range(3):
            writer.write(step, "neuron_mean", np.ones(10, np.float32), dataset="t", layer="d")
    client, _, _ = serve(tmp_path)
    monkeypatch.setattr(data, "MAX_HISTORY_NUMBERS", 25)  # 3 checkpoints x 10 units = 30
    status, reason = get(client, "history", run="a", quantity="neuron_mean", dataset="t", layer="d")
    assert status == 400 and "more than 25 numbers" in reason and "/values" in reason
    monkeypatch.setattr(data, "MAX_HISTORY_NUMBERS", 30)
    status, answer = get(client, "history", run="a", quantity="neuron_mean", dataset="t", layer="d")
    assert status == 200 and answer["cells"][0]["steps"] == [0, 1, 2]


def test_values_of_a_series_in_parts_read_the_one_part_that_holds_the_step(tmp_path):
    # 70 checkpoints of a 65 x 65 matrix: parts begin at steps 0, 64 and 128 (2 steps apart).
    steps = list(range(0, 2 * (2 * metadata.PART_POINTS + 6), 2))
    with InspectWriter(tmp_path / "a") as writer:
        for step in steps:
            for dataset in ("train", "test"):
                matrix = np.full((65, 65), step + (dataset == "test"), np.float32)
                writer.write(step, "correlation_matrix", matrix, dataset=dataset, layer="d")
    client, plugin, _ = serve(tmp_path)
    reads = record_calls(
        plugin._provider, "read_tensors", lambda kw: sorted(kw["run_tag_filter"].tags)
    )
    base = metadata.make_tag("correlation_matrix", "train", "d")
    second = steps[metadata.PART_POINTS]
    for asked, expected in ((0, 0), (second - 1, second - 2), (second, second), (999, steps[-1])):
        status, answer = get(
            client, "values", run="a", quantity="correlation_matrix", step=asked, dataset="train"
        )
        assert status == 200 and answer["step"] == expected, (asked, answer.get("step"))
        assert answer["cells"][0]["values"][0][0] == expected
    read = [tag for call in reads for tag in call]
    assert set(read) == {metadata.part_tag(base, s) for s in (0, second, 2 * second)}
    # Both datasets at an old step: one part each, and each cell its own dataset's value.
    reads.clear()
    answer = get(client, "values", run="a", quantity="correlation_matrix", step=second + 1)[1]
    assert answer["step"] == second
    assert {c["dataset"]: c["values"][0][0] for c in answer["cells"]} == {
        "train": second,
        "test": second + 1,
    }
    assert all(tag.endswith(f"/part={second}") for call in reads for tag in call), reads


def test_history_joins_the_parts_of_a_wide_vector(tmp_path):
    units = metadata.PART_MIN_SIZE + 1
    steps = list(range(metadata.PART_POINTS + 4))
    with InspectWriter(tmp_path / "a") as writer:
        for step in steps:
            vector = np.full(units, step, np.float32)
            writer.write(step, "neuron_mean", vector, dataset="t", layer="wide")
    client, _, _ = serve(tmp_path)
    status, answer = get(
        client, "history", run="a", quantity="neuron_mean", dataset="t", layer="wide"
    )
    assert status == 200
    (cell,) = answer["cells"]
    assert cell["steps"] == steps
    assert [values[0] for values in cell["values"]] == steps
