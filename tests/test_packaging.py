"""The wheel is self-contained: built from a fresh clone, installed in a clean venv, served by
TensorBoard with the cartesian plotly.js inside it, and removed without a trace by pip.

What is built is a clone of HEAD, not the working tree: the test checks what is committed, and
a file that exists only in a developer's tree (such as a fetched ``tb_plugin/vendor/``) cannot
make it pass. The venv is clean (no system site-packages, no TensorFlow: TensorBoard runs the
plugin without it); installing the dependencies takes about 20 s from pip's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tb_plugin import chart_bundle

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STEP_TIMEOUT = 300  # seconds for one venv, clone, build or pip command
SERVE_TIMEOUT = 90  # seconds for TensorBoard to answer
MAX_BUNDLE_BYTES = 2_000_000
# pip's notes on this machine's index configuration, not about this package.
_NOT_OURS = re.compile(r"^\s*WARNING: Location '[^']*' is ignored")
# The top-level names a keras-inspect install (wheel or editable) puts into site-packages.
_OURS = re.compile(r"(keras_inspect|tb_plugin|__editable__[._]+keras_inspect)")
# Environment that would change what is checked: a skipped bundle, the "byte-compiling is
# disabled" note of PYTHONDONTWRITEBYTECODE, or another environment's packages.
_DROPPED_ENV = (
    "KERAS_INSPECT_WITHOUT_CHART_BUNDLE",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
)


def run(args: list, *, cwd=None, env_extra: dict | None = None, check: bool = True):
    """Runs ``args``; returns the CompletedProcess with stdout and stderr merged."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(env_extra or {})
    try:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{args} did not finish in {STEP_TIMEOUT} s:\n{error.output}", pytrace=False)
    if check and done.returncode != 0:
        pytest.fail(f"{args} exited with {done.returncode}:\n{done.stdout[-6000:]}", pytrace=False)
    return done


def warnings_in(output: str) -> list[str]:
    """Lines of ``output`` that warn (setuptools' InformationOnly notes included)."""
    return [
        line
        for line in output.splitlines()
        if re.search(r"(?i)warning|InformationOnly", line) and not _NOT_OURS.search(line)
    ]


def clone_head(dest: Path) -> Path:
    run(["git", "clone", "--quiet", ROOT, dest])
    return dest


class Venv:
    """A clean virtual environment with ``build`` and the pip ``make install`` uses (newer pips
    show the build backend's warnings even without --verbose)."""

    def __init__(self, path: Path):
        run([sys.executable, "-m", "venv", path])
        self.bin = path / "bin"
        self.python = self.bin / "python"
        run([self.python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", "build"])
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        self.site_packages = Path(run([self.python, "-c", code]).stdout.strip())

    def pip(self, *args, check: bool = True):
        return run([self.python, "-m", "pip", *args], check=check)

    def ours(self) -> list[str]:
        """Every file of keras-inspect in site-packages, relative to it."""
        found = []
        for entry in self.site_packages.iterdir():
            if _OURS.match(entry.name):
                files = entry.rglob("*") if entry.is_dir() else [entry]
                found += [str(path.relative_to(self.site_packages)) for path in files]
        return sorted(found)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    return Venv(tmp_path_factory.mktemp("venv") / "env")


@pytest.fixture(scope="module")
def built(venv, tmp_path_factory):
    """(wheel path, build output) of ``python -m build --wheel`` on a clone of HEAD."""
    source = clone_head(tmp_path_factory.mktemp("clone") / "keras-inspect")
    out = tmp_path_factory.mktemp("dist")
    done = run([venv.python, "-m", "build", "--wheel", "--outdir", out, source])
    (wheel,) = out.glob("*.whl")
    return wheel, done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_wheel_holds_the_licences_the_static_files_and_the_cartesian_bundle(built):
    wheel, output = built
    assert warnings_in(output) == []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert "Apache License\n                           Version 2.0, January 2004" in (
            archive.read(licence).decode()
        )
        (metadata_file,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert "License-File: LICENSE" in archive.read(metadata_file).decode()
        bundle = archive.getinfo("tb_plugin/vendor/plotly-cartesian.min.js")
        assert 100_000 < bundle.file_size < MAX_BUNDLE_BYTES
        header = archive.read(bundle.filename)[:300].decode()
        assert f"plotly.js (cartesian - minified) v{chart_bundle.VERSION}" in header
        assert "MIT" in archive.read("tb_plugin/vendor/plotly-LICENSE.txt").decode()
        stamp = archive.read("tb_plugin/vendor/plotly-cartesian.stamp").decode()
        assert stamp == chart_bundle.STAMP
    # Every committed file of both packages ships (a new static/ folder too).
    tracked = run(["git", "-C", ROOT, "ls-files", "keras_inspect", "tb_plugin"]).stdout.split()
    assert tracked and sorted(set(tracked) - names) == []


def test_without_the_registry_the_build_fails_unless_told_to_go_without(venv, tmp_path):
    source = clone_head(tmp_path / "keras-inspect")
    offline = {"NPM_CONFIG_REGISTRY": (tmp_path / "no-registry").as_uri()}
    command = [venv.python, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", source]
    failed = run(command, env_extra=offline, check=False)
    assert failed.returncode != 0
    assert "could not download" in failed.stdout
    assert "KERAS_INSPECT_WITHOUT_CHART_BUNDLE=1" in failed.stdout
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.whl"))

    done = run(command, env_extra={**offline, "KERAS_INSPECT_WITHOUT_CHART_BUNDLE": "1"})
    assert "building without plotly.js-cartesian-dist-min" in done.stdout
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert not [n for n in archive.namelist() if n.startswith("tb_plugin/vendor/")]


def test_installed_tensorboard_serves_the_bundle_and_uninstall_leaves_nothing(
    built, venv, tmp_path
):
    wheel, _ = built
    assert venv.ours() == []
    try:
        installed = venv.pip("install", wheel)
        assert warnings_in(installed.stdout) == []
        vendor = venv.site_packages / "tb_plugin" / "vendor"
        assert (vendor / "plotly-cartesian.min.js").is_file()
        before = venv.ours()

        body = serve_plotly(venv, tmp_path)
        assert f"plotly.js (cartesian - minified) v{chart_bundle.VERSION}" in body[:300].decode()
        assert len(body) == (vendor / "plotly-cartesian.min.js").stat().st_size
        assert venv.ours() == before  # nothing written next to the package at run time
    finally:
        uninstalled = venv.pip("uninstall", "--yes", "keras-inspect", check=False)
    assert uninstalled.returncode == 0, uninstalled.stdout
    assert venv.ours() == []


def serve_plotly(venv: Venv, tmp_path: Path) -> bytes:
    """The plugin's plotly.js as TensorBoard (started from ``venv``) serves it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/data/plugin/keras_inspect/vendor/plotly.min.js"
    (tmp_path / "logs").mkdir()
    log_path = tmp_path / "tensorboard.log"
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    with open(log_path, "w") as log:
        # A session of its own: TensorBoard starts a data server, and both are stopped together.
        server = subprocess.Popen(
            [venv.bin / "tensorboard", "--logdir", tmp_path / "logs"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    return response.read()
            except (urllib.error.URLError, ConnectionError) as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"TensorBoard did not serve {url} ({error}):\n{log_path.read_text()}",
                        pytrace=False,
                    )
                time.sleep(0.5)
    finally:
        stop(server)


def stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def test_an_editable_install_fetches_the_bundle_into_the_source_tree(venv, tmp_path):
    source = clone_head(tmp_path / "keras-inspect")
    try:
        installed = venv.pip("install", "--verbose", "--no-deps", "--editable", source)
        assert warnings_in(installed.stdout) == []
        code = "from tb_plugin import chart_bundle; print(chart_bundle.bundle_path())"
        where = run([venv.python, "-c", code], cwd=tmp_path)
        assert where.stdout.strip() == str(
            source / "tb_plugin" / "vendor" / "plotly-cartesian.min.js"
        )
        # The fetched files are git-ignored: the checkout stays clean.
        assert run(["git", "-C", source, "status", "--porcelain"]).stdout == ""
    finally:
        venv.pip("uninstall", "--yes", "keras-inspect", check=False)
    assert venv.ours() == []
