"""Which plotly.js the dashboard gets, and how the small one gets into the wheel.

The ``plotly`` Python package ships the full plotly.js bundle (4.8 MB, every trace type, maps
and WebGL included). Starting it costs the browser about 0.9 s of main-thread time on this
project's reference machine, almost half of the 2 s budget for opening the Inspect tab. Plotly's
own *cartesian* bundle has every trace type the dashboard draws (scatter, bar, heatmap, image,
histogram, box) and starts in about 0.3 s.

The cartesian bundle is published on the npm registry only, so the build fetches it: the
``build_py`` step of ``setup.py`` calls :func:`fetch`, which downloads the pinned version, checks
it against the registry's sha512 integrity string recorded below and writes it with its licence
into ``tb_plugin/vendor/`` of the build directory. The wheel carries it as package data, so
``pip uninstall`` removes it; nothing is written next to an installed package at run time. An
editable install (``pip install -e .``) writes the same files into the source tree's
``tb_plugin/vendor/`` (git-ignored). Without the registry the build fails and says how to build
without the bundle; a package built that way serves the full bundle from the ``plotly`` package
instead: slower to start, same charts.

``python -m tb_plugin.chart_bundle`` says which bundle this installation serves;
``--target DIR`` fetches and checks the cartesian bundle into DIR, as the build does.

This module imports nothing heavy: the plugin's loader reaches it, and ``setup.py`` loads it by
path before any dependency is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import io
import os
import sys
import tarfile
import urllib.request

NAME = "plotly.js-cartesian-dist-min"
VERSION = "4.1.1"
# dist.integrity of NAME@VERSION as published (``npm view NAME@VERSION dist.integrity``).
INTEGRITY = (
    "sha512-"
    "o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg=="
)
DEFAULT_REGISTRY = "https://registry.npmjs.org"
# Files of the npm tarball kept, and their names in VENDOR_DIR.
_MEMBERS = {
    "package/plotly-cartesian.min.js": "plotly-cartesian.min.js",
    "package/LICENSE": "plotly-LICENSE.txt",
}
VENDOR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
CARTESIAN_PATH = os.path.join(VENDOR_DIR, "plotly-cartesian.min.js")
# Written last by extract(): which package and digest the files in VENDOR_DIR came from.
STAMP_PATH = os.path.join(VENDOR_DIR, "plotly-cartesian.stamp")
STAMP = f"{NAME}@{VERSION} {INTEGRITY}\n"


class BundleError(RuntimeError):
    """The chart bundle could not be found or fetched; the message says how to fix it."""


def full_bundle_path() -> str:
    """plotly.min.js inside the installed ``plotly`` Python package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(
            "no plotly.js to serve: the 'plotly' Python package is not installed and "
            f"{CARTESIAN_PATH} does not exist (this keras-inspect was built without it). Run "
            "`pip install plotly`, or reinstall keras-inspect from a wheel built with the npm "
            "registry reachable."
        )
    path = os.path.join(spec.submodule_search_locations[0], "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise BundleError(
            f"plotly.min.js is missing from the plotly package ({path}); reinstall plotly."
        )
    return path


def has_cartesian(vendor_dir: str = VENDOR_DIR) -> bool:
    """Whether ``vendor_dir`` holds the cartesian bundle of the pinned version."""
    try:
        with open(os.path.join(vendor_dir, os.path.basename(STAMP_PATH))) as handle:
            stamp = handle.read()
    except OSError:
        return False
    return stamp == STAMP and os.path.isfile(
        os.path.join(vendor_dir, os.path.basename(CARTESIAN_PATH))
    )


def bundle_path(vendor_dir: str = VENDOR_DIR) -> str:
    """The plotly.js file to serve: the cartesian bundle when fetched, else the full one."""
    if has_cartesian(vendor_dir):
        return os.path.join(vendor_dir, os.path.basename(CARTESIAN_PATH))
    return full_bundle_path()


def tarball_url(registry: str = DEFAULT_REGISTRY) -> str:
    base = registry.rstrip("/")
    return f"{base}/{NAME}/-/{NAME}-{VERSION}.tgz"


def check_integrity(blob: bytes, integrity: str) -> None:
    """Raises BundleError unless ``blob`` has the ``sha512-<base64>`` digest ``integrity``."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise BundleError(f"unsupported integrity string {integrity!r}: expected 'sha512-...'")
    actual = base64.b64encode(hashlib.sha512(blob).digest()).decode("ascii")
    if actual != expected:
        raise BundleError(
            f"{NAME}@{VERSION} does not match its recorded integrity: got sha512-{actual}, "
            f"expected {integrity}. The download is corrupt or the registry served other bytes; "
            "nothing was written."
        )


def extract(blob: bytes, target_dir: str = VENDOR_DIR) -> list[str]:
    """Writes the kept files of the npm tarball ``blob`` into ``target_dir``; returns paths."""
    written = []
    os.makedirs(target_dir, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        for member, name in _MEMBERS.items():
            try:
                handle = archive.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise BundleError(f"{NAME}@{VERSION} has no file {member!r}")
            path = os.path.join(target_dir, name)
            temporary = path + ".part"
            with open(temporary, "wb") as out:
                out.write(handle.read())
            os.replace(temporary, path)  # a reader never sees half a file
            written.append(path)
    stamp = os.path.join(target_dir, os.path.basename(STAMP_PATH))
    with open(stamp, "w") as out:
        out.write(STAMP)
    written.append(stamp)
    return written


def fetch(
    registry: str = DEFAULT_REGISTRY,
    target_dir: str = VENDOR_DIR,
    timeout: float = 60,
    integrity: str | None = None,
) -> list[str]:
    """Downloads, checks (against ``integrity``, default INTEGRITY) and stores the cartesian
    bundle; returns the written paths. Nothing is written when the check fails."""
    url = tarball_url(registry)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            blob = response.read()
    except (OSError, ValueError) as error:
        raise BundleError(f"could not download {url}: {error}") from error
    check_integrity(blob, integrity or INTEGRITY)
    return extract(blob, target_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Say which plotly.js the Inspect tab serves, or fetch "
        f"{NAME}@{VERSION} into a directory (see the module docstring)."
    )
    parser.add_argument(
        "--target",
        help="fetch and check the cartesian bundle into this directory (the build does this "
        "for the wheel; an installed package is never written to)",
    )
    parser.add_argument(
        "--registry",
        default=os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY,
        help="npm registry to download from (default: $NPM_CONFIG_REGISTRY or %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.target is None:
        try:
            path = bundle_path()
        except BundleError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        kind = f"{NAME}@{VERSION}" if has_cartesian() else "the full bundle of the plotly package"
        print(f"the Inspect tab serves {kind}: {path}")
        return 0
    if has_cartesian(args.target):
        print(f"{NAME}@{VERSION}: already in {args.target}")
        return 0
    try:
        for path in fetch(args.registry, args.target):
            print(f"wrote {path}")
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
