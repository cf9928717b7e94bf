"""Shared test set-up: quiet TensorFlow, a fixed seed per test."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture
def binary():
    """A small compiled binary classifier (Sequential without Input) and its data."""
    from tests import models

    model, x, y = models.sequential_no_input()
    model.compile("adam", "binary_crossentropy")
    return model, x, y


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory):
    """Every example trained once, in parallel (see ``tests/example_runs.py``)."""
    from tests.example_runs import train_examples

    try:
        return train_examples(str(tmp_path_factory.mktemp("examples")))
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
