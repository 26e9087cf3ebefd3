"""Batches that never lose work: unique output names, resumable runs, one line per failure,
a local Ray on the loopback address, Ctrl-C and SIGKILL in the middle of a batch."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import shipped_images

RUN = [sys.executable, "-m", "rayrot"]
ALL_FORMATS = ["--formats", "parquet,zarr,image,overlay"]


# ----------------------------------------------------------------------------- naming


def test_output_names_are_unique_readable_and_deterministic():
    from rayrot.output.naming import output_names

    files = ["in/a/scan.jpg", "in/b/scan.jpg", "in/c/scan-1.jpg", "in/c/scan.jpg", "in/c/scan.png",
             "in/slide.ome.tiff"]
    names = output_names(files)
    assert names == ["a/scan", "b/scan", "c/scan-1", "c/scan.jpg", "c/scan.png", "slide"]
    assert output_names(list(reversed(files))) == list(reversed(names))
    assert output_names(["/data/one/page.png"]) == ["page"]


def test_repeats_and_rayrot_outputs_are_not_inputs(tmp_path):
    from rayrot.output.naming import STATE_DIR, batch_inputs

    (tmp_path / "in" / "out").mkdir(parents=True)
    (tmp_path / "old" / STATE_DIR).mkdir(parents=True)
    files = []
    for rel in ("in/a.jpg", "in/out/a.corrected.jpg", "old/b.corrected.jpg", "in/c.jpg"):
        (tmp_path / rel).write_bytes(b"x")
        files.append(str(tmp_path / rel))
    again = os.path.join(str(tmp_path), "in", "..", "in", "a.jpg")
    kept = batch_inputs(files + [again], tmp_path / "in" / "out")
    assert kept == [str(tmp_path / "in/a.jpg"), str(tmp_path / "in/c.jpg")]


# ----------------------------------------------------------------------------- parts on disk


def test_tables_grow_as_parts_and_consolidate_in_input_order(tmp_path):
    from rayrot import output as writers
    from rayrot.result import DetectionResult

    path = tmp_path / "images.parquet"
    res = {p: DetectionResult(path=p, width=10, height=10, model_name="m", model_version="1")
           for p in ("a", "b", "c")}
    writers.restart_dataset(path, writers.images_table([res["b"]]))
    writers.append_part(path, writers.images_table([res["c"], res["a"]]))
    # readable while the batch runs, by pandas and DuckDB
    assert sorted(pd.read_parquet(path)["path"]) == ["a", "b", "c"]
    import duckdb

    assert duckdb.sql(f"select count(*) from '{path}/*.parquet'").fetchall()[0][0] == 3
    writers.consolidate_dataset(path, writers.IMAGES_SCHEMA, ["a", "b", "c"])
    assert path.is_file() and pq.read_table(path).column("path").to_pylist() == ["a", "b", "c"]


def test_temporaries_of_a_killed_run_are_removed(tmp_path):
    from rayrot.output import remove_temporaries

    keep = [tmp_path / "a" / "scan.zarr" / ".zattrs", tmp_path / "a" / "scan.corrected.jpg"]
    stale = [tmp_path / "a" / ".scan.zarr.tmp-0123abcd" / "0" / "0.0",
             tmp_path / ".images.parquet.tmp-deadbeef", tmp_path / "a" / ".scan.overlay.png.tmp-4242.png"]
    for p in keep + stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert remove_temporaries(tmp_path) == 3
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in stale) and not (tmp_path / "a" / ".scan.zarr.tmp-0123abcd").exists()


# ----------------------------------------------------------------------------- errors


def test_failure_message_unwraps_ray_errors():
    import errno

    from ray.exceptions import RayTaskError

    from rayrot.batch import failure_message

    cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "out/x.zarr/0/0.0")
    try:
        raise RuntimeError("block failed") from cause
    except RuntimeError as exc:
        wrapped = RayTaskError("_call_many", "Traceback (most recent call last):\n  ...\n" * 40, exc)
    line = failure_message("in/x.jpg", wrapped)
    assert line == "in/x.jpg: no space left on device writing out/x.zarr/0/0.0"


# ----------------------------------------------------------------------------- the command line


def _small_images(folder: Path, n: int, side_px: int = 160) -> list[Path]:
    """``n`` small real images (shipped pages, photos and maps, turned), some sharing a name
    in different folders."""
    sources = shipped_images()
    paths = []
    for i in range(n):
        img = Image.open(sources[i % len(sources)]).convert("RGB")
        img.thumbnail((side_px, side_px))
        img = img.rotate(90 * (i % 4), expand=True)
        path = folder / f"set{i % 3}" / f"img{i // 3:02d}.{'png' if i % 5 == 0 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        paths.append(path)
    return paths


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_same_names_duplicates_and_a_failed_write(tmp_path):
    """a/scan.jpg, b/scan.jpg, c/scan-1.jpg each get their own outputs; the same file given
    twice is done once; the output folder inside the input folder is never read back; a
    write that fails is one line on stderr; a rerun skips what is done, --overwrite redoes it."""
    src = shipped_images()
    d = tmp_path / "in"
    for rel, i in (("a/scan.jpg", 0), ("b/scan.jpg", 5), ("c/scan-1.jpg", 9), ("e/page.jpg", 2)):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.open(src[i]).convert("RGB").resize((200, 150)).save(d / rel)
    out = d / "out"
    out.mkdir()
    (out / "e").write_text("a file where the folder for e/page's outputs would go\n")
    cmd = RUN + ["--input", str(d), str(d / "a" / "scan.jpg"), "--output", str(out), "--quiet",
                 "--formats", "parquet,image"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in _lines(proc.stderr) if line.startswith("rayrot: error:")]
    assert errors == [f"rayrot: error: {d / 'e' / 'page.jpg'}: cannot create output folder "
                      f"{out / 'e'}: File exists"]
    assert len(_lines(proc.stderr)) == 2  # the error and the end-of-run summary
    assert _lines(proc.stderr)[-1].startswith("rayrot: 4 images in ") and "failed: 1" in proc.stderr
    results = _lines(proc.stdout)
    assert sorted(line.split("\t")[0] for line in results) == sorted(
        str(d / r) for r in ("a/scan.jpg", "b/scan.jpg", "c/scan-1.jpg"))
    table = pq.read_table(out / "images.parquet").to_pandas()
    assert len(table) == 4 and table["path"].is_unique
    ok = table[table["error"].isna()].set_index("path")
    for rel, name in (("a/scan.jpg", "a/scan"), ("b/scan.jpg", "b/scan"), ("c/scan-1.jpg", "c/scan-1")):
        assert ok.loc[str(d / rel), "output_image"] == f"{name}.corrected.jpg"
        assert ok.loc[str(d / rel), "output_angle"] == f"{name}.angle.txt"
        meta = json.loads((out / f"{name}.meta.json").read_text())
        assert meta["input"] == str(d / rel)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*.corrected.jpg")}

    (out / "e").unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert len(_lines(again.stdout)) == 4
    assert [ln for ln in _lines(again.stderr) if not ln.startswith("rayrot: 4 images in ")] == []
    assert set(results) <= set(_lines(again.stdout))  # the skipped inputs' lines, as before
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # done inputs were skipped
    assert (out / "e" / "page.corrected.jpg").exists()
    table = pq.read_table(out / "images.parquet").to_pandas()
    assert len(table) == 4 and table["error"].isna().all()

    redo = subprocess.run(cmd + ["--overwrite"], capture_output=True, text=True, timeout=900)
    assert redo.returncode == 0, redo.stderr
    assert all(p.stat().st_mtime_ns != t for p, t in stamp.items())


# a line of Ray's C++ core log: "[2026-12-02 19:24:09,075 E 4917 5156] task_manager.cc:1545: ..."
RAY_CORE_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+ [A-Z] \d+ \d+\] \w+\.cc:\d+: ")


def _listening(pid: int) -> set[str]:
    import psutil

    addrs = set()
    try:
        procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return addrs
    for p in procs:
        try:
            addrs |= {c.laddr.ip.removeprefix("::ffff:") for c in p.net_connections("inet")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            pass
    return addrs


def _run_until(cmd, n_lines: int, sig: int, inspect=None, delay_s: float = 0.0):
    """Start ``cmd`` in its own process group, send ``sig`` to the driver ``delay_s`` after it
    has printed ``n_lines`` results; returns (returncode, stdout lines, stderr, what
    ``inspect`` saw)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines, seen = [], None
    try:
        for line in proc.stdout:
            lines.append(line)
            if inspect is not None and seen is None:
                seen = inspect(proc.pid)
            if len(lines) >= n_lines:
                time.sleep(delay_s)
                os.kill(proc.pid, sig)
                break
        rest, err = proc.communicate(timeout=300)
        lines += rest.splitlines(keepends=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:  # whatever of Ray the driver left behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, _lines("".join(lines)), err, seen


def _snapshot(out: Path) -> dict:
    """What a finished output folder holds, comparable between runs: every file (the log and
    rayrot's own folder aside) by content; times taken out of the rows and metadata."""
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_dir() or rel == "rayrot.log" or rel.startswith(".rayrot/"):
            continue
        if rel.endswith(".meta.json"):
            meta = json.loads(p.read_text())
            files[rel] = {k: v for k, v in meta.items() if k not in ("milliseconds", "seconds")}
        elif rel.endswith(".parquet"):
            df = pq.read_table(p).to_pandas()
            files[rel] = df[[c for c in df.columns if not c.startswith("seconds_")]]
        else:
            files[rel] = p.read_bytes()
    return files


@pytest.mark.slow
def test_sigkill_and_ctrl_c_halfway_then_rerun_equals_an_uninterrupted_run(tmp_path):
    images = _small_images(tmp_path / "in", 40)
    assert len(images) == 40

    def cmd(out):
        return RUN + ["--input", str(tmp_path / "in"), "--output", str(out), "--quiet",
                      *ALL_FORMATS, "--set", "output.flush_images=4"]

    whole = subprocess.run(cmd(tmp_path / "whole"), capture_output=True, text=True, timeout=1200)
    assert whole.returncode == 0, whole.stderr
    assert len(_lines(whole.stdout)) == 40  # stderr: only the end-of-run summary
    assert [ln for ln in _lines(whole.stderr) if not ln.startswith("rayrot: 40 images in ")] == []

    out = tmp_path / "out"
    rc, lines, _, listening = _run_until(cmd(out), 8, signal.SIGKILL, inspect=_listening)
    assert rc == -signal.SIGKILL and 8 <= len(lines) < 40
    # the local Ray listens on the loopback address only
    assert listening and listening <= {"127.0.0.1", "::1"}, listening
    # what finished is on disk and readable while the folder is left as the kill left it
    done = pd.read_parquet(out / "images.parquet")
    assert 4 <= len(done) <= len(lines) + 4 and done["path"].is_unique
    kept = {p: p.stat().st_mtime_ns for r in done["output_image"] for p in [out / r]}

    # interrupted a second after the skipped inputs' lines: while Ray starts or the first
    # images are scored, with most of the inputs still to do
    assert len(done) <= 20, len(done)
    rc, lines, err, _ = _run_until(cmd(out), len(done), signal.SIGINT, delay_s=1.0)
    assert rc == 130, err
    # (Ray's core may still log a line of its own from a worker the interrupt cut short)
    ours = [ln for ln in _lines(err) if not RAY_CORE_LINE.match(ln)]
    assert ours[-1].startswith("rayrot: interrupted: ") and " of 40 inputs finished" in ours[-1]
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]

    final = subprocess.run(cmd(out), capture_output=True, text=True, timeout=1200)
    assert final.returncode == 0, final.stderr
    assert sorted(_lines(final.stdout)) == sorted(_lines(whole.stdout))
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished inputs were not redone

    want, got = _snapshot(tmp_path / "whole"), _snapshot(out)
    assert sorted(got) == sorted(want)
    for rel in want:
        if isinstance(want[rel], pd.DataFrame):
            w = want[rel].reset_index(drop=True)
            g = got[rel].reset_index(drop=True)
            w = w.replace(str(tmp_path / "whole"), str(out), regex=False)
            pd.testing.assert_frame_equal(g, w, check_exact=False, rtol=1e-12)
        else:
            assert got[rel] == want[rel], rel
    assert pd.read_parquet(out / "images.parquet")["path"].is_unique
