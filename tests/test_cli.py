"""The command line on real and broken inputs: one clear line per bad file, the others go on,
exit status non-zero, nothing half-written left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import REPO, read_rgb

RUN = [sys.executable, "-m", "rayrot"]


def _png_claiming(path: Path, w: int, h: int) -> None:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, dev):
    """Broken files, and real pages turned 90 degrees in awkward pixel formats."""
    import pyvips

    d = tmp_path_factory.mktemp("inputs")
    page = read_rgb(dev("documents")[0])
    turned = np.ascontiguousarray(np.rot90(page, 1))  # needs 90 clockwise
    bad = {}
    (d / "zero.jpg").write_bytes(b"")
    bad["zero.jpg"] = "empty file"
    Image.fromarray(page).save(d / "full.jpg", quality=90)
    data = (d / "full.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 4])
    (d / "full.jpg").unlink()
    bad["truncated.jpg"] = "truncated.jpg"
    pyvips.Image.new_from_array(np.tile(page, (4, 4, 1))).tiffsave(
        str(d / "full.tif"), tile=True, tile_width=256, tile_height=256, compression="jpeg")
    data = (d / "full.tif").read_bytes()
    (d / "truncated.tif").write_bytes(data[: len(data) // 3])
    (d / "full.tif").unlink()
    bad["truncated.tif"] = "truncated.tif"
    (d / "notes.svs").write_text("this is a text file, not a slide\n")
    bad["notes.svs"] = "not a slide"
    _png_claiming(d / "huge_header.png", 100_000, 100_000)
    bad["huge_header.png"] = "huge_header.png"
    good = {}
    Image.fromarray(turned).convert("CMYK").save(d / "cmyk.jpg", quality=95)
    pyvips.Image.new_from_array(turned.astype(np.uint16) * 257).copy(
        interpretation="rgb16").write_to_file(str(d / "sixteen.png"))
    Image.fromarray(turned).convert("P", palette=Image.ADAPTIVE).save(d / "palette.png")
    Image.fromarray(np.dstack([turned, np.full(turned.shape[:2], 255, np.uint8)])).save(d / "rgba.png")
    good.update({"cmyk.jpg": 90, "sixteen.png": 90, "palette.png": 90, "rgba.png": 90})
    Image.fromarray(page[:1, :1]).save(d / "one_pixel.png")
    good["one_pixel.png"] = None  # nothing to orient: undetermined is the right answer
    return d, bad, good


def _no_temporaries(folder: Path) -> None:
    # Temporaries are hidden siblings named .<name>.tmp-<hex>; zarr's own .zattrs etc. live inside
    # stores; .rayrot is the folder's lock, kept.
    leftovers = [p.name for p in folder.iterdir()
                 if ".tmp" in p.name or (p.name.startswith(".") and p.name != ".rayrot")]
    assert not leftovers, leftovers


def test_batch_with_bad_files(inputs, tmp_path):
    d, bad, good = inputs
    out = tmp_path / "out"
    files = [str(d / n) for n in list(bad) + list(good)]
    proc = subprocess.run(RUN + ["--input", *files, "--output", str(out), "--quiet",
                                 "--set", "output.formats=[parquet, zarr, image]"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("rayrot: error:")]
    assert len(errors) == len(bad), proc.stderr
    for name, words in bad.items():
        [line] = [ln for ln in errors if name in ln]
        assert words in line, line
    table = {r["path"]: r for r in pq.read_table(out / "images.parquet").to_pylist()}
    for name, angle in good.items():
        row = table[str(d / name)]
        assert row["error"] is None, (name, row["error"])
        if angle is None:
            assert row["angle"] is None
        else:
            assert row["angle"] == angle, (name, row["angle"])
            meta = json.loads((out / f"{Path(name).stem}.meta.json").read_text())
            assert meta["angle"] == angle
            assert (out / f"{Path(name).stem}.zarr").is_dir()
    for name in bad:
        assert table[str(d / name)]["error"]
        assert not (out / f"{Path(name).stem}.zarr").exists()
    _no_temporaries(out)


def test_unwritable_output_folder(inputs, tmp_path):
    d, _, good = inputs
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file
            target = tmp_path / "a_file"
            target.write_text("x")
            target = target / "out"
        else:
            target = locked / "out"
        proc = subprocess.run(RUN + ["--input", str(d / "cmyk.jpg"), "--output", str(target), "--quiet"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0
        assert str(target) in proc.stderr and "rayrot: error:" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 3, proc.stderr
    finally:
        locked.chmod(0o700)
    assert not any(locked.iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_version_from_package_metadata():
    from importlib.metadata import version

    proc = subprocess.run(RUN + ["--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"rayrot {version('rayrot')}"
    import rayrot

    assert rayrot.__version__ == version("rayrot")


@pytest.mark.slow
def test_ray_job_submit_against_a_real_head_node(dev, tmp_path):
    """README's cluster steps: from this environment, `ray get-auth-token --generate`, then
    `ray start --head` and `ray job submit -- python rayrot/run.py ...`, all with
    RAY_AUTH_MODE=token, inputs and outputs on a path every node (here one) can reach."""
    ray_bin = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    page = read_rgb(dev("documents")[1])
    shared = tmp_path / "shared"
    shared.mkdir()
    src = shared / "page_turned.png"
    Image.fromarray(np.ascontiguousarray(np.rot90(page, 3))).save(src)  # needs 270 clockwise
    out = shared / "out"
    port, dash = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN",
                                                            "RAY_AUTH_TOKEN_PATH")}
    # The job's `python` is the head node's: the head starts from this environment.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    # Token auth as Ray sets it up: the token in ~/.ray/auth_token (a home of the test's own,
    # so no real token is read or written), read there by the head and by the CLI.
    env["HOME"] = str(tmp_path / "home")
    env["RAY_AUTH_MODE"] = "token"
    token = subprocess.run([ray_bin, "get-auth-token", "--generate"], capture_output=True,
                           text=True, timeout=120, env=env)
    assert token.returncode == 0, token.stderr[-2000:]
    assert (tmp_path / "home" / ".ray" / "auth_token").is_file()
    # --block keeps the head in this process group, so stopping it stops only this cluster
    # (`ray stop` would also stop the test session's own Ray).
    head = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
         f"--dashboard-port={dash}", "--disable-usage-stats",
         # Not the agent's default port: the test session's own Ray may already hold it, and
         # this head's job agent would then never come up ("No available agent").
         f"--dashboard-agent-listen-port={_free_port()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _wait_for_job_server(ray_bin, dash, env)
        for _ in range(40):  # the job agent may start well after the job server answers (load)
            proc = subprocess.run(
                [ray_bin, "job", "submit", f"--address=http://127.0.0.1:{dash}", "--working-dir",
                 str(REPO), "--", "python", "rayrot/run.py", "--input", str(src), "--output",
                 str(out), "--quiet"],
                capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
            if "No available agent" not in proc.stdout + proc.stderr:
                break
            time.sleep(3)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "succeeded" in proc.stdout.lower() + proc.stderr.lower()
        row = pq.read_table(out / "images.parquet").to_pylist()[0]
        assert row["angle"] == 270 and row["error"] is None
        assert (out / "page_turned.zarr").is_dir()
        # The cluster does want the token: a client without it is turned away.
        stranger = {**env, "HOME": str(tmp_path / "elsewhere")}
        refused = subprocess.run([ray_bin, "job", "list", f"--address=http://127.0.0.1:{dash}"],
                                 capture_output=True, text=True, timeout=120, env=stranger)
        assert refused.returncode != 0
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def _wait_for_job_server(ray_bin: str, dash: int, env: dict, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        probe = subprocess.run([ray_bin, "job", "list", f"--address=http://127.0.0.1:{dash}"],
                               capture_output=True, text=True, timeout=60, env=env)
        if probe.returncode == 0:
            return
        time.sleep(2)
    raise TimeoutError(f"Ray job server on port {dash} did not come up")
