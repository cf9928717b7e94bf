"""The public surface is explicit and stable."""

from __future__ import annotations

import importlib
import pkgutil

import keras_inspect as ki


def test_top_level_names():
    assert ki.__all__ == sorted(ki.__all__)
    assert set(ki.__all__) == {
        "PRESETS",
        "QUANTITIES",
        "ConfigError",
        "InspectCallback",
        "InspectError",
        "InspectWarning",
        "LeftOutWarning",
        "QuantityError",
        "Thresholds",
        "cka",
        "findings",
        "important_units",
        "load",
    }
    assert issubclass(ki.ConfigError, ValueError) and issubclass(ki.ConfigError, ki.InspectError)


def test_every_module_declares_a_sorted_all():
    for info in pkgutil.walk_packages(ki.__path__, "keras_inspect."):
        module = importlib.import_module(info.name)
        if info.ispkg and not hasattr(module, "__all__"):
            continue
        assert hasattr(module, "__all__"), info.name
        assert list(module.__all__) == sorted(module.__all__), info.name
