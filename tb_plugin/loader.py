"""The ``tensorboard_plugins`` entry point: tiny on purpose.

TensorBoard imports this module at start-up and an import error here aborts TensorBoard
itself, so it imports nothing beyond TensorBoard's plugin base; the plugin module is imported
in :meth:`InspectLoader.load`, where a failure only skips the plugin.
"""

from __future__ import annotations

from tensorboard.plugins import base_plugin

__all__ = ["InspectLoader"]

_PLUGIN_NAME = "keras_inspect"  # tb_plugin.metadata.PLUGIN_NAME, without importing it here


class InspectLoader(base_plugin.TBLoader):
    """Registers the Inspect tab and makes TensorBoard keep every checkpoint it records."""

    def fix_flags(self, flags) -> None:
        # TensorBoard keeps 10 (Python loader) or 100 (Rust data server) points of a
        # third-party tensor series by default; a checkpoint scrubber needs them all. An
        # explicit --samples_per_plugin=keras_inspect=N from the user wins.
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault(_PLUGIN_NAME, 0)

    def load(self, context: base_plugin.TBContext):
        from tb_plugin.plugin import InspectPlugin

        return InspectPlugin(context)
