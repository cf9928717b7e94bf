"""tb_plugin.chart_bundle: the pinned plotly.js cartesian bundle, checked before it is stored."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile

import pytest

from tb_plugin import chart_bundle


def npm_tarball(files: dict[str, bytes]) -> bytes:
    """An npm-style .tgz holding ``files`` (paths under ``package/``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


def integrity_of(blob: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()


GOOD = {
    "package/plotly-cartesian.min.js": b"/* plotly.js cartesian */ window.Plotly = {};",
    "package/LICENSE": b"MIT",
    "package/README.md": b"not kept",
}


def registry_with(tmp_path, blob: bytes) -> str:
    """A file:// "registry" serving ``blob`` at the tarball path of the pinned version."""
    folder = tmp_path / "registry" / chart_bundle.NAME / "-"
    folder.mkdir(parents=True)
    (folder / f"{chart_bundle.NAME}-{chart_bundle.VERSION}.tgz").write_bytes(blob)
    return (tmp_path / "registry").as_uri()


def test_integrity_check_accepts_the_right_digest_only():
    blob = b"some bytes"
    chart_bundle.check_integrity(blob, integrity_of(blob))
    with pytest.raises(chart_bundle.BundleError, match="does not match its recorded integrity"):
        chart_bundle.check_integrity(blob + b"!", integrity_of(blob))
    with pytest.raises(chart_bundle.BundleError, match="unsupported integrity"):
        chart_bundle.check_integrity(blob, "md5-abc")


def test_fetch_stores_the_bundle_its_licence_and_a_stamp(tmp_path):
    blob = npm_tarball(GOOD)
    target = tmp_path / "vendor"
    written = chart_bundle.fetch(
        registry_with(tmp_path, blob), str(target), integrity=integrity_of(blob)
    )
    assert sorted(os.path.basename(p) for p in written) == [
        "plotly-LICENSE.txt",
        "plotly-cartesian.min.js",
        "plotly-cartesian.stamp",
    ]
    assert (target / "plotly-cartesian.min.js").read_bytes() == GOOD[
        "package/plotly-cartesian.min.js"
    ]
    assert not (target / "README.md").exists()
    assert chart_bundle.has_cartesian(str(target))
    assert chart_bundle.bundle_path(str(target)) == str(target / "plotly-cartesian.min.js")


def test_a_tampered_download_writes_nothing(tmp_path):
    blob = npm_tarball(GOOD)
    target = tmp_path / "vendor"
    with pytest.raises(chart_bundle.BundleError, match="nothing was written"):
        chart_bundle.fetch(registry_with(tmp_path, blob), str(target), integrity=integrity_of(b"x"))
    assert not target.exists()


def test_a_tarball_without_the_bundle_is_refused(tmp_path):
    blob = npm_tarball({"package/LICENSE": b"MIT"})
    with pytest.raises(chart_bundle.BundleError, match="has no file 'package/plotly-cartesian"):
        chart_bundle.fetch(
            registry_with(tmp_path, blob), str(tmp_path / "v"), integrity=integrity_of(blob)
        )


def test_without_the_cartesian_bundle_the_full_one_is_served(tmp_path):
    assert not chart_bundle.has_cartesian(str(tmp_path))
    full = chart_bundle.bundle_path(str(tmp_path))
    assert full == chart_bundle.full_bundle_path()
    with open(full, "rb") as handle:
        assert b"plotly.js v" in handle.read(400)
    # A stamp of another version does not count.
    (tmp_path / "plotly-cartesian.min.js").write_bytes(b"old")
    (tmp_path / "plotly-cartesian.stamp").write_text("plotly.js-cartesian-dist-min@0.1 sha512-x\n")
    assert chart_bundle.bundle_path(str(tmp_path)) == full


def test_the_command_line_fetches_into_a_target_or_fails_saying_why(tmp_path, capsys, monkeypatch):
    missing = (tmp_path / "nowhere").as_uri()
    target = str(tmp_path / "vendor")
    assert chart_bundle.main(["--registry", missing, "--target", target]) == 1
    assert "could not download" in capsys.readouterr().err
    assert not chart_bundle.has_cartesian(target)

    blob = npm_tarball(GOOD)
    registry = registry_with(tmp_path, blob)
    monkeypatch.setattr(chart_bundle, "INTEGRITY", integrity_of(blob))
    assert chart_bundle.main(["--registry", registry, "--target", target]) == 0
    assert "wrote" in capsys.readouterr().out
    # Once there, the files are not fetched again.
    assert chart_bundle.main(["--registry", missing, "--target", target]) == 0
    assert "already in" in capsys.readouterr().out


def test_the_command_line_says_which_bundle_is_served(capsys):
    # Never a download, and never a write into the installed package.
    assert chart_bundle.main([]) == 0
    out = capsys.readouterr().out
    assert chart_bundle.bundle_path() in out
    kind = chart_bundle.NAME if chart_bundle.has_cartesian() else "full bundle of the plotly"
    assert kind in out


def test_the_pinned_integrity_is_a_sha512():
    algorithm, _, digest = chart_bundle.INTEGRITY.partition("-")
    assert algorithm == "sha512" and len(base64.b64decode(digest)) == 64
    assert chart_bundle.tarball_url("https://r.example/").endswith(
        f"/{chart_bundle.NAME}/-/{chart_bundle.NAME}-{chart_bundle.VERSION}.tgz"
    )


def test_without_either_bundle_the_error_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(chart_bundle.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(chart_bundle.BundleError, match=r"pip install plotly.*npm registry"):
        chart_bundle.bundle_path(str(tmp_path))
