"""Tests of the download in audiolab.data.esc10: the sha256 manifest and download_esc10.

The download tests run against a local HTTP server (never the internet).

The server runs in a thread on 127.0.0.1 (port 0) and serves zips built here from
the synthetic clips of conftest.py, with a manifest that matches them.
"""
from __future__ import annotations

import functools
import http.server
import io
import fcntl
import os
import signal
import subprocess
import sys
import time
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from audiolab import data
from audiolab.data import ESC10_CLASSES, ESC10_COMMIT, DownloadError, download_esc10, esc10, load_metadata, read_manifest

from test_data_metadata import real_path, require

TOP = f"ESC-10-{ESC10_COMMIT}/"
REPO = Path(__file__).resolve().parents[1]


class Server:
    """Serves ``routes[path] = body`` (or ``(body, claimed_length)`` to drop the connection early, or a function
    of the request handler)."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if callable(route):
                    route(self)
                    return
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                body, length = route if isinstance(route, tuple) else (route, None)
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(length or len(body)))
                self.end_headers()
                self.wfile.write(body)  # with a larger claimed length, closing now truncates the download

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def clips(synthetic_esc10) -> dict[str, bytes]:
    """``{relative path: bytes}`` of the synthetic clips."""
    return {p.relative_to(synthetic_esc10).as_posix(): p.read_bytes() for p in synthetic_esc10.glob("0*/[0-9]*.ogg")}


@pytest.fixture(scope="module")
def manifest(clips) -> dict[str, str]:
    import hashlib

    return {rel: hashlib.sha256(body).hexdigest() for rel, body in clips.items()}


def make_zip(files: dict[str, bytes], top: str = TOP, extra: dict = None) -> bytes:
    """A zip like GitHub's: one top-level folder holding the class folders and a README."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        if top:
            zf.writestr(top, b"")
        zf.writestr(top + "README.md", b"# ESC-10\n")
        for rel, body in files.items():
            zf.writestr(top + rel, body)
        for info, body in (extra or {}).items():
            zf.writestr(info, body)
    return buffer.getvalue()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_success_and_second_call_does_nothing(server, clips, manifest, tmp_path):
    server.routes["/esc10.zip"] = make_zip(clips)
    dest = tmp_path / "cache" / "ESC-10"
    assert download_esc10(dest, server.url("/esc10.zip"), manifest=manifest) == dest
    assert leftovers(dest.parent) == ["ESC-10"]  # no temporary files
    assert (dest / "README.md").is_file()
    meta = load_metadata(dest, strict=False)
    assert len(meta) == 50 and meta.attrs["layout"] == "esc10-tree"
    assert esc10._manifest_problems(dest, manifest) == ""
    assert server.requests == ["/esc10.zip"]

    assert download_esc10(dest, server.url("/esc10.zip"), manifest=manifest) == dest
    assert server.requests == ["/esc10.zip"]  # complete: no network at all


def test_any_single_top_level_folder_and_empty_dest(server, clips, manifest, tmp_path):
    server.routes["/other.zip"] = make_zip(clips, top="ESC-10-master/")
    dest = tmp_path / "ESC-10"
    dest.mkdir()  # an empty folder is replaced
    download_esc10(dest, server.url("/other.zip"), manifest=manifest)
    assert len(load_metadata(dest, strict=False)) == 50 and not (dest / "ESC-10-master").exists()


def test_an_archive_without_a_top_folder_installs_readable_by_others(server, clips, manifest, tmp_path):
    server.routes["/flat.zip"] = make_zip(clips, top="")
    old = os.umask(0o022)
    try:
        dest = download_esc10(tmp_path / "ESC-10", server.url("/flat.zip"), manifest=manifest)
    finally:
        os.umask(old)
    assert len(load_metadata(dest, strict=False)) == 50
    assert dest.stat().st_mode & 0o777 == 0o755  # a temporary folder of mkdtemp's would stay 0700


def test_tampered_archive_is_refused_and_rerun_works(server, clips, manifest, tmp_path):
    victim = sorted(clips)[7]
    tampered = dict(clips)
    tampered[victim] = clips[victim][:-10] + b"0123456789"
    server.routes["/tampered.zip"] = make_zip(tampered)
    server.routes["/good.zip"] = make_zip(clips)
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_esc10(dest, server.url("/tampered.zip"), manifest=manifest)
    assert victim in str(info.value) and "Nothing was installed" in str(info.value)
    assert leftovers(dest.parent) == []
    assert download_esc10(dest, server.url("/good.zip"), manifest=manifest) == dest
    assert len(load_metadata(dest, strict=False)) == 50


def test_archive_missing_or_adding_clips_is_refused(server, clips, manifest, tmp_path):
    fewer = dict(clips)
    gone = sorted(fewer)[0]
    del fewer[gone]
    server.routes["/fewer.zip"] = make_zip(fewer)
    server.routes["/more.zip"] = make_zip({**clips, "002 - Rain/9-999-A.ogg": b"OggS"})
    with pytest.raises(DownloadError, match=f"missing 1: {gone}"):
        download_esc10(tmp_path / "a" / "ESC-10", server.url("/fewer.zip"), manifest=manifest)
    with pytest.raises(DownloadError, match="not in manifest 1: 002 - Rain/9-999-A.ogg"):
        download_esc10(tmp_path / "b" / "ESC-10", server.url("/more.zip"), manifest=manifest)
    assert leftovers(tmp_path / "a") == leftovers(tmp_path / "b") == []


def test_bytes_damaged_in_transit_are_refused(server, clips, manifest, tmp_path):
    body = bytearray(make_zip(clips))
    middle = len(body) // 2
    body[middle : middle + 8] = bytes(b ^ 0xFF for b in body[middle : middle + 8])
    server.routes["/damaged.zip"] = bytes(body)
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError):
        download_esc10(dest, server.url("/damaged.zip"), manifest=manifest)
    assert leftovers(dest.parent) == []


def symlink_member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    "member, reason",
    [
        (f"{TOP}../evil.ogg", "'..' in path"),
        ("../evil.ogg", "'..' in path"),
        ("/tmp/audiolab-evil.ogg", "absolute path"),
        (symlink_member(f"{TOP}001 - Dog bark/link.ogg"), "symbolic link"),
    ],
    ids=["dotdot-inside", "dotdot-top", "absolute", "symlink"],
)
def test_unsafe_archives_are_refused(server, clips, manifest, tmp_path, member, reason):
    server.routes["/evil.zip"] = make_zip(clips, extra={member: b"/etc/passwd"})
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError, match="unsafe members") as info:
        download_esc10(dest, server.url("/evil.zip"), manifest=manifest)
    assert reason in str(info.value)
    assert leftovers(dest.parent) == [] and not (tmp_path / "evil.ogg").exists()
    assert not Path("/tmp/audiolab-evil.ogg").exists()


def test_truncated_download_is_refused_and_rerun_works(server, clips, manifest, tmp_path):
    body = make_zip(clips)
    server.routes["/cut.zip"] = (body[: len(body) // 3], len(body))
    server.routes["/good.zip"] = body
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError, match="interrupted: got"):
        download_esc10(dest, server.url("/cut.zip"), manifest=manifest)
    assert leftovers(dest.parent) == []
    download_esc10(dest, server.url("/good.zip"), manifest=manifest)
    assert len(load_metadata(dest, strict=False)) == 50


def test_a_killed_downloads_leftovers_are_removed_at_the_next_start(server, clips, manifest, tmp_path):
    """A killed download (nothing of it runs after SIGKILL) left its partial zip and unpack folder for good (#20)."""
    server.routes["/esc10.zip"] = make_zip(clips)
    cache = tmp_path / "cache"
    (cache / ".ESC-10-unpack-a1b2c3d4" / "ESC-10-master").mkdir(parents=True)  # killed while unpacking
    (cache / ".ESC-10-a1b2c3d4.zip.part").write_bytes(b"PK" * 1000)
    (cache / ".ESC-10-x1y2z3.zip.part").write_bytes(b"PK" * 1000)  # as today's main names them
    (cache / ".ESC-10-unpack-9z8y7x6w").mkdir()  # its zip is gone already
    (cache / ".ESC-10-notes.txt").write_text("mine")  # not the kit's
    (cache / "other.zip.part").write_text("mine")
    (cache / ".ESC-10-unpack-running").mkdir()  # a download running right now: it holds a lock on its zip
    with open(cache / ".ESC-10-running.zip.part", "wb") as running:
        fcntl.flock(running, fcntl.LOCK_EX)
        download_esc10(cache / "ESC-10", server.url("/esc10.zip"), manifest=manifest)
    assert leftovers(cache) == [".ESC-10-notes.txt", ".ESC-10-running.zip.part", ".ESC-10-unpack-running", "ESC-10",
                                "other.zip.part"]


def test_a_download_killed_mid_way_leaves_nothing_after_the_next_one(server, clips, manifest, tmp_path):
    body, stalled = make_zip(clips), threading.Event()

    def half_then_stall(handler):  # half the archive, then nothing until the test is done
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        stalled.wait(60)

    server.routes["/slow.zip"], server.routes["/esc10.zip"] = half_then_stall, body
    cache = tmp_path / "cache"
    code = (f"from audiolab.data import download_esc10; download_esc10({str(cache / 'ESC-10')!r}, "
            f"{server.url('/slow.zip')!r}, manifest={dict(manifest)!r})")
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for _ in range(1200):  # until it is downloading: its zip and unpack folder are there (it imports torch first)
            if len(leftovers(cache)) == 2 or child.poll() is not None:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)  # nothing of it runs any more: no finally, no cleanup
        child.wait()
    finally:
        stalled.set()
    assert len(leftovers(cache)) == 2  # its partial zip and its unpack folder
    download_esc10(cache / "ESC-10", server.url("/esc10.zip"), manifest=manifest)
    assert leftovers(cache) == ["ESC-10"]


def test_http_404_is_a_clear_error(server, manifest, tmp_path):
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download_esc10(dest, server.url("/missing.zip"), manifest=manifest)
    assert "AUDIOLAB_DATA" in str(info.value)
    assert leftovers(dest.parent) == []


def test_not_a_zip_is_a_clear_error(server, manifest, tmp_path):
    server.routes["/page.zip"] = b"<html>rate limited</html>"
    dest = tmp_path / "cache" / "ESC-10"
    with pytest.raises(DownloadError, match="corrupt"):
        download_esc10(dest, server.url("/page.zip"), manifest=manifest)
    assert leftovers(dest.parent) == []


def test_unreachable_server_is_a_clear_error(manifest, tmp_path, server):
    url = server.url("/esc10.zip")
    server.close()  # nothing listens on that port any more
    with pytest.raises(DownloadError, match="internet connection"):
        download_esc10(tmp_path / "ESC-10", url, manifest=manifest)
    assert leftovers(tmp_path) == []
    server.close = lambda: None


def test_incomplete_existing_dest_is_left_alone(server, clips, manifest, tmp_path):
    dest = tmp_path / "ESC-10"
    (dest / "001 - Dog bark").mkdir(parents=True)
    (dest / "001 - Dog bark" / "mine.ogg").write_bytes(b"keep me")
    with pytest.raises(DownloadError, match="not a complete ESC-10 copy"):
        download_esc10(dest, server.url("/esc10.zip"), manifest=manifest)
    assert (dest / "001 - Dog bark" / "mine.ogg").read_bytes() == b"keep me"
    assert server.requests == []


def test_load_metadata_download_goes_to_the_cache(server, clips, manifest, tmp_path, monkeypatch):
    server.routes["/esc10.zip"] = make_zip(clips)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    real = download_esc10
    monkeypatch.setattr(
        esc10, "download_esc10",
        functools.partial(real, url=server.url("/esc10.zip"), manifest=manifest),
    )
    meta = load_metadata(download=True, strict=False)
    assert len(meta) == 50 and "downloaded" in meta.attrs["source"]
    assert Path(meta.attrs["root"]) == (tmp_path / "cache" / "ESC-10").resolve()
    meta = load_metadata(download=True, strict=False)
    assert "cache folder" in meta.attrs["source"] and server.requests == ["/esc10.zip"]


def test_data_command_download_failure_exits_2(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    real = download_esc10
    monkeypatch.setattr(esc10, "download_esc10", functools.partial(real, url=server.url("/nope.zip")))
    assert data.data_command(download=True) == 2
    assert "HTTP 404" in capsys.readouterr().err


# --------------------------------------------------------------------------- manifest and verification


def test_read_manifest_formats(tmp_path):
    digest = "ab" * 32
    path = tmp_path / "m.sha256"
    path.write_text(f"{digest}  ./001 - Dog bark/1-1-A.ogg\n{digest.upper()} *002 - Rain/2-2-A.ogg\n\n")
    assert read_manifest(path) == {"001 - Dog bark/1-1-A.ogg": digest, "002 - Rain/2-2-A.ogg": digest}
    assert read_manifest({"./a.ogg": digest.upper()}) == {"a.ogg": digest}
    path.write_text("not a checksum line\n")
    with pytest.raises(ValueError, match="m.sha256:1"):
        read_manifest(path)


def test_packaged_manifest_covers_esc10():
    manifest = read_manifest()
    assert len(manifest) == 400
    folders = {rel.split("/")[0] for rel in manifest}
    assert folders == {f"{i + 1:03d} - {name}" for i, name in enumerate(ESC10_CLASSES)}


# --------------------------------------------------------------------------- the real dataset


@pytest.mark.realdata
def test_packaged_manifest_matches_shared_copy():
    shared = require(real_path("ESC-10.sha256"))
    assert read_manifest(shared) == read_manifest()
    assert len(read_manifest()) == 400
