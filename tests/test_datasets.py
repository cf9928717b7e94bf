"""Dataset validation, fixed sampling and label kinds."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_inspect.datasets import LabelKind, class_indices, infer_label_kind, prepare_datasets
from keras_inspect.errors import ConfigError

X = np.arange(200, dtype="float32").reshape(100, 2)
Y = (np.arange(100) % 2).astype("int32")


def test_sample_is_fixed_by_seed_and_keeps_rows_aligned():
    first = prepare_datasets({"train": (X, Y)}, max_samples=30, seed=7)["train"]
    again = prepare_datasets({"train": (X, Y)}, max_samples=30, seed=7)["train"]
    other = prepare_datasets({"train": (X, Y)}, max_samples=30, seed=8)["train"]
    assert len(first) == 30
    np.testing.assert_array_equal(first.rows, again.rows)
    assert not np.array_equal(first.rows, other.rows)
    np.testing.assert_array_equal(first.x, X[first.rows])
    np.testing.assert_array_equal(first.y, Y[first.rows])


def test_small_dataset_is_kept_whole_and_dicts_are_sampled_together():
    x = {"a": X, "b": X[:, :1] * 10}
    sample = prepare_datasets({"test1": (x, Y)}, max_samples=40, seed=0)["test1"]
    np.testing.assert_array_equal(sample.x["b"][:, 0], sample.x["a"][:, 0] * 10)
    whole = prepare_datasets({"serving": X}, max_samples=1000, seed=0)["serving"]
    assert whole.y is None and whole.rows is None and len(whole) == 100


@pytest.mark.parametrize("batched", [True, False])
def test_tf_data_datasets_are_read_batched_or_not(batched):
    ds = tf.data.Dataset.from_tensor_slices((X, Y))
    ds = ds.batch(16) if batched else ds
    sample = prepare_datasets({"train": ds}, max_samples=1000, seed=0)["train"]
    np.testing.assert_array_equal(sample.x, X)
    np.testing.assert_array_equal(sample.y, Y)


def test_label_kinds():
    assert infer_label_kind(None) == LabelKind.NONE
    assert infer_label_kind(Y) == LabelKind.BINARY
    assert infer_label_kind(np.array([0, 2, 1, 2])) == LabelKind.MULTICLASS
    assert infer_label_kind(np.eye(3)[[0, 2, 1]]) == LabelKind.MULTICLASS
    assert infer_label_kind(np.array([0.5, 1.2])) == LabelKind.CONTINUOUS
    assert infer_label_kind(np.array([[0.1, 0.2], [0.3, 0.4]])) == LabelKind.CONTINUOUS
    np.testing.assert_array_equal(class_indices(np.eye(3)[[0, 2, 1]]), [0, 2, 1])


@pytest.mark.parametrize(
    ("datasets", "match"),
    [
        ({}, "non-empty dict"),
        ([X], "non-empty dict"),
        ({"": X}, "non-empty names"),
        ({"a/b": X}, "without '/'"),
        ({"train": (X[:0], Y[:0])}, r"datasets\['train'\] is empty"),
        ({"train": (X, Y[:50])}, r"100 rows in x but y has shape \(50,\)"),
        ({"train": ({"a": X, "b": X[:10]}, Y)}, "different lengths"),
        ({"train": (X, np.where(Y == 1, np.nan, 0.0))}, "50 rows with NaN"),
        ({"train": (X, Y.astype(str))}, "numeric labels"),
        ({"train": (X, Y, None, None)}, "tuple of 4 items"),
        ({"train": (np.array(["a"] * 100), Y)}, "numeric array"),
        ({"train": ({}, Y)}, "empty dict"),
        ({"train": (X, {"click": Y})}, r"y is a dict .*pass the labels of the scored output"),
    ],
)
def test_bad_datasets_are_refused_with_the_fix(datasets, match):
    with pytest.raises(ConfigError, match=match):
        prepare_datasets(datasets, max_samples=10, seed=0)
