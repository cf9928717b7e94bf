"""The build puts plotly.js's cartesian bundle into the wheel; setup.cfg holds everything else.

``build_py`` fetches the pinned npm tarball with ``tb_plugin/chart_bundle.py``, checks its sha512
integrity and writes the bundle and its licence into ``tb_plugin/vendor/`` of the build directory,
so the wheel carries them as package data. An editable install has no build directory to ship:
there the files go into the source tree's ``tb_plugin/vendor/`` (git-ignored), once.

When the registry cannot be reached the build fails; ``KERAS_INSPECT_WITHOUT_CHART_BUNDLE=1``
builds without the bundle, and the plugin then serves the full one of the ``plotly`` package.
``NPM_CONFIG_REGISTRY`` points the download at a mirror (a ``file://`` directory works).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import warnings

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import BaseError
from setuptools.warnings import InformationOnly

HERE = os.path.dirname(os.path.abspath(__file__))
WITHOUT_BUNDLE = "KERAS_INSPECT_WITHOUT_CHART_BUNDLE"

# setuptools' note on every editable install of a flat layout, that folders in the working
# directory named like the package may shadow it: here those folders are the package's sources.
# pip shows the note as a warning box on every `make install`.
warnings.filterwarnings("ignore", message="Editable installation", category=InformationOnly)


@functools.cache
def _chart_bundle():
    # By path: importing the tb_plugin package would look for its dependencies, which the
    # isolated build environment does not have (chart_bundle.py itself needs the stdlib only).
    path = os.path.join(HERE, "tb_plugin", "chart_bundle.py")
    spec = importlib.util.spec_from_file_location("_keras_inspect_chart_bundle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ChartBundleError(BaseError):
    """The cartesian bundle could not be fetched; setuptools prints the message, not a trace."""


class BuildPyWithChartBundle(build_py):
    """build_py, plus the checked plotly.js cartesian bundle in ``tb_plugin/vendor/``."""

    command_name = "build_py"  # what setuptools' messages call this step

    def run(self) -> None:
        super().run()
        bundle = _chart_bundle()
        target = self._vendor_dir(bundle)
        if bundle.has_cartesian(target):
            return
        if os.environ.get(WITHOUT_BUNDLE) == "1":
            self.warn(
                f"{WITHOUT_BUNDLE}=1: building without {bundle.NAME}; the Inspect tab will "
                "serve the full plotly.js bundle of the 'plotly' package (slower to open)"
            )
            return
        registry = os.environ.get("NPM_CONFIG_REGISTRY") or bundle.DEFAULT_REGISTRY
        try:
            written = bundle.fetch(registry, target)
        except bundle.BundleError as error:
            raise ChartBundleError(
                f"{error}\nThe wheel carries {bundle.NAME}@{bundle.VERSION} from the npm "
                "registry. Make the registry reachable (or set NPM_CONFIG_REGISTRY to a mirror), "
                f"or set {WITHOUT_BUNDLE}=1 to build without it: the Inspect tab then serves "
                "the full plotly.js bundle of the 'plotly' package, which opens ~0.6 s slower."
            ) from error
        for path in written:
            self.announce(f"fetched {path}", level=logging.INFO)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:  # setuptools lists get_output_mapping() then
            return outputs
        return outputs + self._vendor_outputs()

    def get_output_mapping(self) -> dict[str, str]:
        # Editable installs in strict mode link exactly these files into place.
        mapping = super().get_output_mapping()
        if self.editable_mode:
            source = _chart_bundle().VENDOR_DIR
            for path in self._vendor_outputs():
                mapping[path] = os.path.join(source, os.path.basename(path))
        return mapping

    def _vendor_dir(self, bundle) -> str:
        if self.editable_mode:
            return bundle.VENDOR_DIR
        return os.path.join(self.build_lib, "tb_plugin", "vendor")

    def _vendor_outputs(self) -> list[str]:
        bundle = _chart_bundle()
        fetched = self._vendor_dir(bundle)
        if not bundle.has_cartesian(fetched):
            return []
        # Where the files land in the build directory, whichever directory they were fetched to.
        built = os.path.join(self.build_lib, "tb_plugin", "vendor")
        return [os.path.join(built, name) for name in sorted(os.listdir(fetched))]


setup(cmdclass={"build_py": BuildPyWithChartBundle})
