"""Object storage: inputs and outputs on a real S3-compatible server started on 127.0.0.1.

moto's standalone server (``moto[server]``) speaks the S3 protocol over HTTP; s3fs, zarr's
``FsspecStore`` and pyarrow's ``S3FileSystem`` talk to it as they would to AWS, with the
endpoint and credentials in the environment. Outputs are read back with ome-zarr-py (and
validated by ome-zarr-models), pyarrow over S3, and DuckDB scanning that Arrow dataset (DuckDB's
own ``httpfs`` extension is downloaded on first use, which an offline machine cannot do).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import read_rgb, shipped_images
from rayrot import output as writers
from rayrot.errors import SlideReadError
from rayrot.io import Slide

pytest.importorskip("moto.server")
BUCKET = "rayrot-test"


@pytest.fixture()
def s3(monkeypatch):
    """A fresh S3 server on loopback with one bucket; its environment, for subprocesses too."""
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()  # no client made for an earlier server
    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    try:
        yield fs, env
    finally:
        # moto keeps its buckets in this process, whatever server served them: empty it.
        urllib.request.urlopen(urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/moto-api/reset",
                                                      method="POST"), timeout=30).close()
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def _arrow_s3(env):
    from pyarrow import fs as pafs

    return pafs.S3FileSystem(endpoint_override=env["AWS_ENDPOINT_URL"], access_key="testing",
                             secret_key="testing", region="us-east-1", scheme="http")


def _read_ome_s3(url: str):
    """Level 0 of an OME-Zarr on S3 as ome-zarr-py reads it, after ome-zarr-models validates it."""
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader
    from ome_zarr_models.v04.image import Image as NgffImage
    from zarr.storage import FsspecStore

    NgffImage.from_zarr(zarr.open_group(FsspecStore.from_url(url, read_only=True), mode="r"))
    node = list(Reader(parse_url(url))())[0]
    assert node.load(Multiscales) is not None
    return np.asarray(node.data[0]), node


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return np.asarray(Image.fromarray(read_rgb(shipped_images("documents")[0])).convert("RGB"))


def test_input_url_and_zarr_and_parquet_on_s3(s3, page, cfg, tmp_path):
    import duckdb
    import pyarrow.dataset as ds

    from rayrot.result import DetectionResult

    fs, env = s3
    turned = np.ascontiguousarray(np.rot90(page))  # needs 90 degrees clockwise
    local = tmp_path / "page.png"
    Image.fromarray(turned).save(local)
    fs.put_file(str(local), f"{BUCKET}/in/page.png")

    slide = Slide.from_file(f"s3://{BUCKET}/in/page.png", cfg.source)
    assert (slide.width, slide.height) == (turned.shape[1], turned.shape[0])
    with pytest.raises(SlideReadError, match=f"s3://{BUCKET}/in/missing.png: no such file"):
        Slide.from_file(f"s3://{BUCKET}/in/missing.png", cfg.source)

    out = writers.check_output_dir(f"s3://{BUCKET}/out/")
    assert out == f"s3://{BUCKET}/out"
    out_cfg = dataclasses.replace(cfg.output, zarr_chunk_px=256)
    plan = writers.plan_zarr(slide.width, slide.height, 90, 0.0, out_cfg)
    url = writers.write_ome_zarr(plan, f"s3://{BUCKET}/in/page.png", cfg.source,
                                 writers.output_child(out, "page.zarr"),
                                 metadata={"source": "page.png"})
    level0, node = _read_ome_s3(url)
    np.testing.assert_array_equal(level0.transpose(1, 2, 0), page)
    assert len(node.data) == plan.n_levels

    res = DetectionResult(path=f"s3://{BUCKET}/in/page.png", width=slide.width,
                          height=slide.height, angle=90, confidence=0.9)
    writers.write_images_parquet([res], writers.output_child(out, "images.parquet"))
    dataset = ds.dataset(f"{BUCKET}/out/images.parquet", filesystem=_arrow_s3(env))
    con = duckdb.connect()
    con.register("images", dataset)  # DuckDB scans the Arrow dataset, which reads over S3
    rows = con.sql("select path, angle, mpp_x from images").fetchall()
    assert rows == [(f"s3://{BUCKET}/in/page.png", 90, None)]
    leftovers = [p for p in fs.find(f"{BUCKET}/out") if ".tmp" in p or "write-test" in p]
    assert not leftovers and not Path("s3:").exists()


def test_failed_zarr_write_on_s3_leaves_no_prefix(s3, page, cfg, tmp_path, monkeypatch):
    from rayrot.output.zarr import store as zarr_store

    fs, _ = s3
    src = tmp_path / "page.png"
    Image.fromarray(page).save(src)
    plan = writers.plan_zarr(page.shape[1], page.shape[0], 0, 0.0,
                             dataclasses.replace(cfg.output, zarr_chunk_px=128))
    calls = []

    def failing(*args):
        calls.append(args)
        if len(calls) == 3:
            raise OSError("disk on fire")
        return real(*args)

    real = zarr_store.write_zarr_block
    monkeypatch.setattr(zarr_store, "write_zarr_block", failing)
    with pytest.raises(Exception, match="disk on fire"):
        writers.write_ome_zarr(plan, str(src), cfg.source, f"s3://{BUCKET}/out/page.zarr")
    assert len(calls) == 3 and not fs.exists(f"{BUCKET}/out/page.zarr")


@pytest.mark.slow
def test_cli_reads_and_writes_s3_urls_end_to_end(s3, page, tmp_path):
    """`rayrot --input s3://... --output s3://...`: its own local Ray; the block-writing tasks
    write to the bucket, and nothing lands on the local disk under a folder named s3:."""
    import pyarrow.parquet as pq

    fs, env = s3
    local = tmp_path / "page.png"
    Image.fromarray(np.ascontiguousarray(np.rot90(page, 3))).save(local)  # 270 makes it upright
    fs.put_file(str(local), f"{BUCKET}/in/page.png")
    run_env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "rayrot", "--input", f"s3://{BUCKET}/in/", "--output",
         f"s3://{BUCKET}/out", "--formats", "parquet,zarr,image", "--quiet"],
        capture_output=True, text=True, timeout=900, env=run_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"s3://{BUCKET}/in/page.png\tangle=270" in proc.stdout
    assert not (tmp_path / "s3:").exists()
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{BUCKET}/out"))
    assert names == ["images.parquet", "page.angle.txt", "page.corrected.png", "page.meta.json",
                     "page.zarr", "tiles.parquet"]
    level0, _ = _read_ome_s3(f"s3://{BUCKET}/out/page.zarr")
    np.testing.assert_array_equal(level0.transpose(1, 2, 0), page)
    row = pq.read_table(f"{BUCKET}/out/images.parquet", filesystem=_arrow_s3(env)).to_pylist()[0]
    assert row["angle"] == 270 and row["error"] is None
    meta = json.loads(fs.cat_file(f"{BUCKET}/out/page.meta.json"))
    assert meta["angle"] == 270
