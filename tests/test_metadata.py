"""Tests of the on-disk contract in tb_plugin/metadata.py."""

from __future__ import annotations

import ast
import itertools
import json
import sys
from pathlib import Path

import pytest

from tb_plugin import metadata
from tb_plugin.metadata import (
    EXTRA_AXES,
    decode_content,
    encode_content,
    keras_log_tag,
    make_tag,
    scalar_tag,
)


def test_constants():
    assert metadata.PLUGIN_NAME == "keras_inspect"
    assert metadata.FORMAT_VERSION == 1
    assert metadata.RUN_SUBDIR == "inspect"
    assert EXTRA_AXES == ("group", "class", "sample", "pair", "type")
    assert metadata.KERAS_LOG_PREFIX == "keras/"


def test_all_is_sorted_and_complete():
    assert metadata.__all__ == sorted(metadata.__all__)
    assert all(hasattr(metadata, name) for name in metadata.__all__)


def test_imports_only_the_standard_library():
    # The TensorBoard server imports this module; anything heavy would slow its start-up.
    tree = ast.parse(Path(metadata.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        (("neuron_mean", "train", "dense_1"), {}, "neuron_mean/train/dense_1"),
        (("model_score_histogram", "test1"), {"class": "1"}, "model_score_histogram/test1/class=1"),
        (("model_auc", "test1"), {}, "model_auc/test1"),
        (("weights_hinton", "", "dense_1"), {}, "weights_hinton/dense_1"),
        (("model_auc",), {}, "model_auc"),
        (
            ("feature_saliency", "train"),
            {"group": "user_id"},
            "feature_saliency/train/group=user_id",
        ),
        (("feature_maps", "test1", "conv"), {"sample": 3}, "feature_maps/test1/conv/sample=3"),
        (("channel_capacity", "train"), {"pair": "c1->c2"}, "channel_capacity/train/pair=c1->c2"),
    ],
)
def test_make_tag(args, extra, expected):
    assert make_tag(*args, **extra) == expected


def test_make_tag_orders_extra_axes_and_omits_empty_ones():
    tag = make_tag("q", "d", "l", pair="a->b", sample="2", group="", **{"class": "0"})
    assert tag == "q/d/l/class=0/sample=2/pair=a->b"


def test_make_tag_escapes_separators_in_names():
    assert make_tag("q", "day/1", "x=y") == "q/day%2F1/x%3Dy"
    assert make_tag("q", "100%") == "q/100%25"
    # Without escaping both would be "q/a/b".
    assert make_tag("q", "a/b") != make_tag("q", "a", "b")


def test_make_tag_rejects_unknown_extra_axis():
    with pytest.raises(ValueError, match="Unknown extra axis 'unit'.*allowed: group, class"):
        make_tag("neuron_mean", "train", "dense_1", unit="3")


@pytest.mark.parametrize("quantity", ["", "neuron mean", "a/b", None, "keras"])
def test_make_tag_rejects_bad_quantity(quantity):
    with pytest.raises(ValueError, match="quantity"):
        make_tag(quantity, "train")


def test_make_tag_rejects_non_string_names():
    with pytest.raises(ValueError, match="dataset must be a string"):
        make_tag("q", 1)
    with pytest.raises(ValueError, match="class must be a string"):
        make_tag("q", **{"class": 1.5})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("model_auc", "test1"), "model_auc/dataset=test1"),
        (("probe_auc", "test1", "dense_1"), "probe_auc/layer=dense_1/dataset=test1"),
        (("layer_std", "", "dense_1"), "layer_std/layer=dense_1"),
    ],
)
def test_scalar_tag_groups_by_quantity_layer_first(args, expected):
    assert scalar_tag(*args) == expected
    assert scalar_tag(*args).split("/")[0] == args[0]


def test_scalar_tag_with_extra_axis():
    assert scalar_tag("model_auc", "test1", **{"class": 2}) == "model_auc/dataset=test1/class=2"


def test_scalar_tag_needs_dataset_or_layer():
    with pytest.raises(ValueError, match="needs a dataset or a layer"):
        scalar_tag("model_auc")


def test_scalar_tags_never_equal_plugin_tags():
    # Both live in the same run, where TensorBoard keeps one metadata per tag.
    names = ["", "a", "b", "a/b", "x=y", "dataset=a", "layer=a"]
    extras = [{}, {"class": "1"}, {"pair": "a"}]
    plugin = {
        make_tag("q", dataset, layer, **extra)
        for dataset, layer, extra in itertools.product(names, names, extras)
    }
    mirrors = {
        scalar_tag("q", dataset, layer, **extra)
        for dataset, layer, extra in itertools.product(names, names, extras)
        if dataset or layer
    }
    assert not plugin & mirrors
    assert not any(tag.startswith("keras/") for tag in plugin | mirrors)


def test_keras_log_tag():
    assert keras_log_tag("loss") == "keras/loss"
    assert keras_log_tag("val_accuracy") == "keras/val_accuracy"
    with pytest.raises(ValueError, match="non-empty string"):
        keras_log_tag("")


def test_encode_content_is_compact_json_without_empty_fields():
    content = encode_content("model_auc", "test1")
    assert content == b'{"v":1,"quantity":"model_auc","dataset":"test1"}'
    assert json.loads(encode_content("q", "d", "l", sample=4)) == {
        "v": 1,
        "quantity": "q",
        "dataset": "d",
        "layer": "l",
        "sample": "4",
    }


def test_encode_content_validates_like_make_tag():
    with pytest.raises(ValueError, match="Unknown extra axis 'unit'"):
        encode_content("q", unit="1")


@pytest.mark.parametrize("axis", EXTRA_AXES)
def test_content_round_trip_with_each_extra_axis(axis):
    axes = decode_content(encode_content("q", "train", "dense_1", **{axis: "v/1"}))
    assert axes == {"quantity": "q", "dataset": "train", "layer": "dense_1", axis: "v/1"}


def test_decode_content_always_has_dataset_and_layer():
    assert decode_content(encode_content("weights_hinton", layer="d")) == {
        "quantity": "weights_hinton",
        "dataset": "",
        "layer": "d",
    }


def test_decode_content_keeps_unicode_names():
    axes = decode_content(encode_content("q", "données", "couche_é"))
    assert axes["dataset"] == "données"
    assert axes["layer"] == "couche_é"


@pytest.mark.parametrize(
    "content",
    [
        b'{"v":2,"quantity":"q"}',
        b'{"v":0,"quantity":"q"}',
        b'{"v":true,"quantity":"q"}',
        b'{"v":"1","quantity":"q"}',
        b'{"quantity":"q"}',
        b'{"v":1}',
        b'{"v":1,"quantity":"q","layer":3}',
        b"[1]",
        b"not json",
        b"\xff\xfe",
        b"",
    ],
)
def test_decode_content_returns_none_for_newer_or_unreadable(content):
    assert decode_content(content) is None


def test_order_round_trips_and_defaults_to_unknown():
    from tb_plugin.metadata import decode_order

    content = encode_content("neuron_mean", "test1", "dense_2", order=(3, 1))
    assert decode_order(content) == (3, 1)
    assert decode_content(content) == {
        "quantity": "neuron_mean",
        "dataset": "test1",
        "layer": "dense_2",
    }
    assert decode_order(encode_content("model_auc", "test1")) == (-1, -1)
    assert decode_order(b"not json") == (-1, -1)


def test_a_part_tag_is_never_another_series_tag():
    base = make_tag("correlation_matrix", "train", "dense_1")
    assert metadata.part_tag(base, 64) == base + "/part=64"
    # "part" is not an axis: no series of the vocabulary spells it.
    assert "part" not in EXTRA_AXES
    assert metadata.part_tag(base, 64) != make_tag("correlation_matrix", "train", "dense_1/part=64")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"v":1,"quantity":"q","p":7}', 7),
        (b'{"v":1,"quantity":"q"}', -1),
        (b'{"v":1,"quantity":"q","p":-3}', -1),
        (b'{"v":1,"quantity":"q","p":true}', -1),
        (b'{"v":1,"quantity":"q","p":"7"}', -1),
        (b"not json", -1),
        (b"[1]", -1),
    ],
)
def test_decode_part(content, expected):
    assert metadata.decode_part(content) == expected
