"""rayrot.output: Parquet tables, OME-Zarr pyramids and corrected images.

Real images from ../shared/data/dev and small generated ones, read through the real
``rayrot.io`` (PNG inputs, so pixel-exact comparisons are meaningful); no Ray: the chunk
jobs run through the builtin ``map`` (and a map that pickles every job, as Ray would).
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

from rayrot import output as writers
from rayrot.output import image as image_writer
from rayrot.output.zarr import store as zarr_store
from rayrot.errors import SlideReadError, WriteError
from rayrot.result import DetectionResult

ANGLES = (0, 90, 180, 270)


# ----------------------------------------------------------------------------- helpers


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _save_png(pixels: np.ndarray, path: Path) -> str:
    Image.fromarray(pixels).save(path, compress_level=1)
    return str(path)


def _out_cfg(cfg, **changes):
    return dataclasses.replace(cfg.output, **changes)


def _read_ome(path: Path):
    """Levels of an OME-Zarr image as read by ome-zarr-py: list of (C, H, W) arrays, node."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    nodes = list(Reader(parse_url(str(path)))())
    assert nodes, f"ome-zarr-py found no image in {path}"
    node = nodes[0]
    assert node.load(Multiscales) is not None, "not read as a multiscales image"
    return [np.asarray(level) for level in node.data], node


def _validate_ngff(path: Path, version: str) -> None:
    """Strict check of the metadata against the spec's models (ome-zarr-models, which
    ome-zarr-py depends on); raises on any violation."""
    if version == "0.4":
        from ome_zarr_models.v04.image import Image as NgffImage
    else:
        from ome_zarr_models.v05.image import Image as NgffImage
    NgffImage.from_zarr(zarr.open_group(str(path), mode="r"))


def _hwc(level: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(level.transpose(1, 2, 0))


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def reads(monkeypatch):
    """Record every level-0 region the writers read (proof that they stream)."""
    log: list[tuple[int, int, int, int]] = []
    real = zarr_store._open_source

    class Recorder:
        def __init__(self, slide):
            self._slide = slide

        def __getattr__(self, name):
            return getattr(self._slide, name)

        def read_level_region(self, level, x, y, w, h, **kw):
            log.append((x, y, w, h))
            return self._slide.read_level_region(level, x, y, w, h, **kw)

        def region_image(self, level, x, y, w, h):
            log.append((x, y, w, h))
            return self._slide.region_image(level, x, y, w, h)

    monkeypatch.setattr(zarr_store, "_open_source", lambda p, c: Recorder(real(p, c)))
    return log


@pytest.fixture(scope="module")
def map_png(tmp_path_factory, dev) -> tuple[np.ndarray, Path]:
    """A real map (upright; the dev set's 825x622 one when present), stored losslessly as PNG."""
    maps = dev("maps")
    path = next((p for p in maps if "pansharpen" in p.name), None)
    if path is not None:
        upright = _rgb(path)
    else:  # the shipped map, brought to the same odd size (the chunk grid's edge cases)
        upright = np.asarray(Image.fromarray(_rgb(maps[-1])).resize((825, 622), Image.LANCZOS))
    folder = tmp_path_factory.mktemp("src")
    return upright, Path(_save_png(upright, folder / "map.png"))


def _rotated_input(upright: np.ndarray, angle: int, folder: Path, name: str = "in") -> str:
    """The upright image turned so that it needs ``angle`` degrees clockwise to be upright."""
    return _save_png(np.ascontiguousarray(np.rot90(upright, angle // 90)), folder / f"{name}.png")


def _tilted_page(width=520, height=380, ccw_deg=7.0) -> tuple[np.ndarray, np.ndarray]:
    """A white page with a black axis-aligned rectangle and rules, and the same page tilted
    ``ccw_deg`` counter-clockwise (PIL, canvas expanded, white fill): (upright, tilted)."""
    page = np.full((height, width, 3), 255, np.uint8)
    page[100:260, 120:400] = 0  # the rectangle: x 120..399, y 100..259
    for y in (40, 60, 300, 330):
        page[y:y + 3, 60:460] = 0  # text-line-like rules
    tilted = Image.fromarray(page).rotate(ccw_deg, resample=Image.BICUBIC, expand=True,
                                          fillcolor=(255, 255, 255))
    return page, np.asarray(tilted)


def _dark_box_edges(rgb: np.ndarray, threshold=100):
    """For the 280x160 rectangle of :func:`_tilted_page`: its size, and the left/right edge
    column per row and top/bottom edge row per column over its inner 80 %.

    Rows of the rectangle hold 200..350 dark pixels (the 400-long rules more); its columns
    over 100 (a column crosses the rules in at most 12).
    """
    dark = rgb.min(axis=2) < threshold
    per_row = dark.sum(axis=1)
    rows = np.flatnonzero((per_row > 200) & (per_row < 350))
    cols = np.flatnonzero(dark.sum(axis=0) > 100)
    y0, y1, x0, x1 = rows[0], rows[-1], cols[0], cols[-1]
    my, mx = (y1 - y0) // 10, (x1 - x0) // 10
    inner_rows = range(y0 + my, y1 - my)
    inner_cols = range(x0 + mx, x1 - mx)
    left = [np.flatnonzero(dark[r, x0 - 5:x1 + 6])[0] for r in inner_rows]
    right = [np.flatnonzero(dark[r, x0 - 5:x1 + 6])[-1] for r in inner_rows]
    top = [np.flatnonzero(dark[y0 - 5:y1 + 6, c])[0] for c in inner_cols]
    bottom = [np.flatnonzero(dark[y0 - 5:y1 + 6, c])[-1] for c in inner_cols]
    return (x1 - x0 + 1, y1 - y0 + 1), (np.array(left), np.array(right), np.array(top),
                                        np.array(bottom))


def _result(path, angle=0, skew=0.0, **kw) -> DetectionResult:
    kw.setdefault("confidence", 0.9)
    kw.setdefault("probabilities", (0.9, 0.05, 0.03, 0.02))
    return DetectionResult(path=str(path), angle=angle, skew_deg=skew,
                           model_name="orient_cnn_small", model_version="test",
                           seconds={"open": 0.01, "score": 0.1}, **kw)


# ----------------------------------------------------------------------------- OME-Zarr plan


def test_plan_zarr_shapes_levels_and_options(cfg):
    out = _out_cfg(cfg, zarr_chunk_px=256, zarr_max_levels=8)
    p = writers.plan_zarr(1000, 600, 90, 0.0, out)
    assert (p.width, p.height, p.channels, p.exact) == (600, 1000, 3, True)
    assert p.level_shapes == ((1000, 600), (500, 300), (250, 150))
    assert p.chunk_grid(0) == (4, 3) and p.chunk_rect(0, (3, 2)) == (512, 768, 88, 232)
    assert p.chunk_rect(0, 11) == p.chunk_rect(0, (3, 2))
    one_level = dataclasses.replace(out, zarr_max_levels=1)
    assert writers.plan_zarr(1000, 600, 90, 0.0, one_level).n_levels == 2
    # a fine skew grows the canvas to the rotated bounding box, unless cropped
    s = writers.plan_zarr(1000, 600, 0, 30.0, out)
    assert (p.block_levels, s.block_levels) == (out.zarr_block_levels, out.zarr_block_levels - 1)
    assert (s.width, s.height) == (1167, 1020) and not s.exact
    c = writers.plan_zarr(1000, 600, 270, 30.0, dataclasses.replace(out, skew_crop=True))
    assert (c.width, c.height) == (600, 1000)
    clear = dataclasses.replace(out, fill="transparent")
    assert writers.plan_zarr(1000, 600, 0, 3.0, clear).channels == 4
    assert writers.plan_zarr(1000, 600, None, 0.0, out).angle_deg == 0
    assert writers.plan_zarr(10, 10, 0, 0.0, dataclasses.replace(out, zarr_chunk_px=1000),
                             source_tile_px=256).chunk_px == 1024
    with pytest.raises(ValueError, match="angle_deg"):
        writers.plan_zarr(10, 10, 45, 0.0, out)
    with pytest.raises(IndexError):
        p.chunk_rect(0, (4, 0))
    assert pickle.loads(pickle.dumps(p)) == p


# ----------------------------------------------------------------------------- OME-Zarr exact


@pytest.mark.parametrize("angle", ANGLES)
def test_zarr_exact_turn_is_pixel_exact_and_streams(angle, map_png, cfg, tmp_path, reads):
    upright, _ = map_png
    src = _rotated_input(upright, angle, tmp_path)
    plan = writers.plan_zarr(*Image.open(src).size, angle, 0.0,
                             _out_cfg(cfg, zarr_chunk_px=128, zarr_max_levels=8))
    out = tmp_path / "out" / "map.zarr"
    writers.write_ome_zarr(plan, src, cfg.source, out, metadata={"source": src})
    levels, node = _read_ome(out)
    assert len(levels) == plan.n_levels == 4  # 622x825 -> 311x413 -> 156x207 -> 78x104
    np.testing.assert_array_equal(_hwc(levels[0]), upright)
    for lv, (h, w) in zip(levels, plan.level_shapes):
        assert lv.shape == (3, h, w) and lv.dtype == np.uint8
    # no process held the image: every read was at most one block of 2**k x 2**k chunks
    block = 128 << plan.block_levels
    assert plan.block_levels == cfg.output.zarr_block_levels and block < max(upright.shape)
    assert reads and max(w * h for _, _, w, h in reads) <= block * block
    assert len(reads) == len(range(0, plan.width, block)) * len(range(0, plan.height, block))
    assert _files(out.parent) == ["map.zarr"]
    attrs = json.loads((out / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4" and [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]][:2] == \
        [[1.0, 1.0, 1.0], [1.0, 2.0, 2.0]]
    assert [c["color"] for c in attrs["omero"]["channels"]] == ["FF0000", "00FF00", "0000FF"]
    assert attrs["rayrot"]["angle_deg"] == angle and attrs["rayrot"]["source"] == src
    assert json.loads((out / "0" / ".zarray").read_text())["dimension_separator"] == "/"
    _validate_ngff(out, "0.4")


@pytest.mark.parametrize("block_levels", [0, 1, 2])
def test_zarr_levels_are_2x2_means(block_levels, map_png, cfg, tmp_path):
    """Every level is the 2x2 mean of the one above, across block edges and rounds alike."""
    upright, src = map_png
    crop = _save_png(np.ascontiguousarray(upright[:301, :417]), tmp_path / "odd.png")  # odd sides
    plan = writers.plan_zarr(417, 301, 0, 0.0,
                             _out_cfg(cfg, zarr_chunk_px=64, zarr_block_levels=block_levels))
    assert len(plan.tiers()) == {0: 4, 1: 3, 2: 2}[block_levels]
    out = writers.write_ome_zarr(plan, crop, cfg.source, tmp_path / "odd.zarr")
    group = zarr.open_group(str(out), mode="r")
    for n in range(1, plan.n_levels):
        above = group[str(n - 1)][:].astype(np.float64)
        c, h, w = above.shape
        padded = np.pad(above, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
        expect = padded.reshape(c, (h + 1) // 2, 2, (w + 1) // 2, 2).mean(axis=(2, 4))
        got = group[str(n)][:]
        assert got.shape == expect.shape
        assert np.abs(got - expect).max() <= 0.5 + 1e-9  # rounded mean


def test_zarr_ngff_05_is_zarr_v3_under_ome(map_png, cfg, tmp_path):
    upright, _ = map_png
    src = _rotated_input(upright, 270, tmp_path)
    plan = writers.plan_zarr(*Image.open(src).size, 270, 0.0,
                             _out_cfg(cfg, zarr_chunk_px=256, ngff_version="0.5"))
    out = writers.write_ome_zarr(plan, src, cfg.source, tmp_path / "v5.zarr")
    meta = json.loads((out / "zarr.json").read_text())
    assert meta["zarr_format"] == 3 and meta["attributes"]["ome"]["version"] == "0.5"
    assert "version" not in meta["attributes"]["ome"]["multiscales"][0]
    arr = json.loads((out / "0" / "zarr.json").read_text())
    assert arr["dimension_names"] == ["c", "y", "x"]
    _validate_ngff(out, "0.5")
    levels, _ = _read_ome(out)
    assert len(levels) == plan.n_levels == 3
    np.testing.assert_array_equal(_hwc(levels[0]), upright)


@pytest.mark.parametrize("ngff_version", ["0.4", "0.5"])
@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_zarr_chunks_written_by_hand_read_back_through_zarr(codec, ngff_version, map_png, cfg,
                                                            tmp_path):
    """rayrot encodes and stores chunks itself; zarr must read them under the codec the array
    declares, edge chunks (padded to the full chunk) included, in both zarr formats."""
    upright, _ = map_png
    src = _rotated_input(upright, 90, tmp_path)
    plan = writers.plan_zarr(*Image.open(src).size, 90, 0.0,
                             _out_cfg(cfg, zarr_chunk_px=96, zarr_codec=codec,
                                      ngff_version=ngff_version))
    out = writers.write_ome_zarr(plan, src, cfg.source, tmp_path / "c.zarr")
    if ngff_version == "0.4":
        declared = json.loads((out / "0" / ".zarray").read_text())["compressor"]
        assert declared["id"] == {"lz4": "blosc", "zstd": "zstd"}[codec]
        assert declared.get("cname", "lz4") == "lz4"
    else:
        codecs = json.loads((out / "0" / "zarr.json").read_text())["codecs"]
        assert [c["name"] for c in codecs] == ["bytes", {"lz4": "blosc", "zstd": "zstd"}[codec]]
    array = zarr.open_group(str(out), mode="r")["0"]
    assert array.shape[1] % 96 and array.shape[2] % 96  # edge chunks are partial
    np.testing.assert_array_equal(_hwc(array[:]), upright)
    chunks = [f for f in (out / "0").rglob("*") if f.is_file() and not f.name.startswith(".")
              and f.name != "zarr.json"]
    rows, cols = plan.chunk_grid(0)
    assert len(chunks) == rows * cols  # a map has no all-fill chunk
    assert sum(f.stat().st_size for f in chunks) < rows * cols * 3 * 96 * 96 * 0.9  # compressed


def test_zarr_jobs_survive_pickling(map_png, cfg, tmp_path):
    """The jobs handed to map_fn are what Ray ships: a plain module-level function (what
    ``ray.remote`` accepts) and picklable, non-tuple items (a Ray map may unpack tuples)."""
    import inspect

    upright, src = map_png
    seen = []

    def pickling_map(func, jobs):
        assert inspect.isfunction(func) and func.__module__ == "rayrot.output.zarr.store"
        for job in jobs:
            assert not isinstance(job, tuple)
            seen.append(job)
            yield pickle.loads(pickle.dumps(func))(pickle.loads(pickle.dumps(job)))

    plan = writers.plan_zarr(825, 622, 180, 0.0, _out_cfg(cfg, zarr_chunk_px=256))
    out = writers.write_ome_zarr(plan, str(src), cfg.source, tmp_path / "p.zarr",
                                 map_fn=pickling_map)
    assert len(seen) == sum(r * c for r, c, _ in (plan.block_grid(*t) for t in plan.tiers()))
    assert [j.first for j in seen] == sorted(j.first for j in seen)  # round by round
    levels, _ = _read_ome(out)
    np.testing.assert_array_equal(_hwc(levels[0]), np.rot90(upright, -2))


def test_zarr_failure_midway_leaves_nothing(map_png, cfg, tmp_path, monkeypatch):
    upright, src = map_png
    out = tmp_path / "out"
    old = writers.write_ome_zarr(writers.plan_zarr(825, 622, 0, 0.0, _out_cfg(cfg)), str(src),
                                 cfg.source, out / "map.zarr")
    old_level0 = zarr.open_group(str(old), mode="r")["0"][:]
    real = zarr_store._open_source
    calls = []

    class Failing:
        def __init__(self, slide):
            self._slide = slide

        def read_level_region(self, level, x, y, w, h, **kw):
            calls.append(1)
            if len(calls) == 3:
                raise SlideReadError(f"{src}: cannot read region x={x} y={y} (level 0)")
            return self._slide.read_level_region(level, x, y, w, h, **kw)

    monkeypatch.setattr(zarr_store, "_open_source", lambda p, c: Failing(real(p, c)))
    plan = writers.plan_zarr(825, 622, 90, 0.0, _out_cfg(cfg, zarr_chunk_px=128))
    with pytest.raises(SlideReadError, match="cannot read region"):
        writers.write_ome_zarr(plan, str(src), cfg.source, out / "map.zarr")
    assert _files(out) == ["map.zarr"]  # the old store, untouched; no temporary left
    np.testing.assert_array_equal(zarr.open_group(str(old), mode="r")["0"][:], old_level0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match="file"):
        writers.write_ome_zarr(plan, str(src), cfg.source, blocker / "map.zarr")


# ----------------------------------------------------------------------------- OME-Zarr skew


@pytest.mark.parametrize("angle", [0, 90])
def test_zarr_skew_straightens_a_tilted_page(angle, cfg, tmp_path, reads):
    page, tilted = _tilted_page(ccw_deg=7.0)
    src = _rotated_input(tilted, angle, tmp_path)
    w, h = Image.open(src).size
    plan = writers.plan_zarr(w, h, angle, 7.0,
                             _out_cfg(cfg, zarr_chunk_px=64, zarr_block_levels=2))
    assert plan.block_levels == 1  # skewed blocks: one level smaller than exact ones
    out = writers.write_ome_zarr(plan, src, cfg.source, tmp_path / "s.zarr")
    levels, _ = _read_ome(out)
    rgb = _hwc(levels[0])
    (bw, bh), edges = _dark_box_edges(rgb)
    assert abs(bw - 280) <= 2 and abs(bh - 160) <= 2  # the rectangle, the right way round
    for edge in edges:  # each side is a straight, axis-aligned line within 1 px
        assert edge.max() - edge.min() <= 1
    assert (rgb[:3, :3] == 255).all()  # white fill in the corners the turn exposes
    biggest = max(w * h for _, _, w, h in reads)
    assert biggest <= (128 * 1.42 + 8) ** 2  # a block's rotated footprint plus the margin


def test_zarr_skew_chunks_are_seamless_and_match_the_image_writer(map_png, cfg, tmp_path):
    upright, src = map_png
    small = writers.plan_zarr(825, 622, 90, -3.3,
                              _out_cfg(cfg, zarr_chunk_px=96, zarr_block_levels=0))
    whole = writers.plan_zarr(825, 622, 90, -3.3, _out_cfg(cfg, zarr_chunk_px=2048))
    a = zarr.open_group(str(writers.write_ome_zarr(small, str(src), cfg.source,
                                                   tmp_path / "a.zarr")), mode="r")["0"][:]
    b = zarr.open_group(str(writers.write_ome_zarr(whole, str(src), cfg.source,
                                                   tmp_path / "b.zarr")), mode="r")["0"][:]
    np.testing.assert_array_equal(a, b)
    written = writers.write_corrected_image(str(src), _result(src, 90, -3.3), tmp_path / "img",
                                           cfg.output, source_cfg=cfg.source)
    np.testing.assert_array_equal(_hwc(a), _rgb(Path(written["image"])))


@pytest.mark.parametrize("angle", ANGLES)
def test_zarr_resampling_path_agrees_with_the_exact_path(angle, map_png, cfg, tmp_path):
    """A negligible skew takes the bicubic path; it must land on the same pixel grid as the
    lossless path (catches half-pixel and centre errors in the affine)."""
    upright, _ = map_png
    crop = np.ascontiguousarray(upright[:157, :203])
    src = _rotated_input(crop, angle, tmp_path)
    w, h = Image.open(src).size
    plan = writers.plan_zarr(w, h, angle, 1e-9, _out_cfg(cfg, zarr_chunk_px=64))
    assert not plan.exact and (plan.height, plan.width) == crop.shape[:2]
    out = writers.write_ome_zarr(plan, src, cfg.source, tmp_path / "r.zarr")
    got = _hwc(zarr.open_group(str(out), mode="r")["0"][:]).astype(int)
    assert np.abs(got - crop).max() <= 1


def test_zarr_skew_transparent_fill_has_alpha_and_no_dark_fringe(cfg, tmp_path):
    white = np.full((200, 300, 3), 255, np.uint8)
    white[80:120, 100:200] = (200, 40, 40)
    src = _save_png(white, tmp_path / "white.png")
    plan = writers.plan_zarr(300, 200, 0, 10.0, _out_cfg(cfg, fill="transparent", zarr_chunk_px=64))
    out = writers.write_ome_zarr(plan, src, cfg.source, tmp_path / "t.zarr")
    levels, node = _read_ome(out)
    assert [lv.shape[0] for lv in levels] == [4] * plan.n_levels
    for lv in levels:
        rgba = _hwc(lv)
        assert rgba[0, 0, 3] == 0 and rgba[rgba.shape[0] // 2, rgba.shape[1] // 2, 3] == 255
        edge = (rgba[..., 3] > 0) & (rgba[..., 3] < 255)
        assert edge.any()
        # edge pixels of white paper stay white (only alpha fades), at every level
        assert rgba[edge][:, :3].min() >= 235
    _validate_ngff(out, "0.4")
    omero = json.loads((out / ".zattrs").read_text())["omero"]
    assert [c["label"] for c in omero["channels"]] == ["red", "green", "blue", "alpha"]


# ----------------------------------------------------------------------------- corrected images


@pytest.mark.parametrize("angle", ANGLES)
def test_corrected_png_is_pixel_exact(angle, map_png, cfg, tmp_path):
    upright, _ = map_png
    src = _rotated_input(upright, angle, tmp_path, name="scan")
    res = _result(src, angle)
    written = writers.write_corrected_image(src, res, tmp_path / "out", cfg.output,
                                            source_cfg=cfg.source)
    assert set(written) == {"image", "angle", "meta"}
    assert Path(written["image"]).name == "scan.corrected.png"
    np.testing.assert_array_equal(_rgb(Path(written["image"])), upright)
    assert Path(written["angle"]).read_text().strip() == str(angle)
    meta = json.loads(Path(written["meta"]).read_text())
    h, w = upright.shape[:2]
    assert meta["input_size"] == ([w, h] if angle in (0, 180) else [h, w])
    assert meta["output_size"] == [w, h] and meta["angle"] == angle
    assert meta["method"] == "rayrot orient_cnn_small test" and meta["milliseconds"] > 0
    assert meta["probabilities"]["0"] == pytest.approx(0.9)
    assert _files(tmp_path / "out") == ["scan.angle.txt", "scan.corrected.png", "scan.meta.json"]


def test_corrected_jpeg_tiff_and_names(dev, cfg, tmp_path):
    path = next(p for p in dev("photos"))
    upright = _rgb(path)
    turned = tmp_path / "photo.jpeg"
    Image.fromarray(np.rot90(upright, 3)).save(turned, quality=98)
    written = writers.write_corrected_image(str(turned), _result(turned, 270, 1.25),
                                            tmp_path / "o", cfg.output, name="p1",
                                            source_cfg=cfg.source)
    assert Path(written["image"]).name == "p1.corrected.jpg"
    assert Path(written["angle"]).read_text().strip() == "271.25"
    got = _rgb(Path(written["image"]))
    assert got.shape[0] > upright.shape[0] and got.shape[1] > upright.shape[1]  # grown canvas
    tif = str(tmp_path / "x.tif")
    Image.fromarray(np.rot90(upright, 2)).save(tif)
    written = writers.write_corrected_image(tif, _result(tif, 180), tmp_path / "o", cfg.output,
                                            source_cfg=cfg.source)
    assert written["image"].endswith("x.corrected.tif")
    np.testing.assert_array_equal(_rgb(Path(written["image"])), upright)
    assert writers.corrected_suffix("a.webp") == "png"
    assert writers.corrected_suffix("b.TIFF") == "tif"


def test_corrected_rgba_png_keeps_its_alpha(cfg, tmp_path):
    rgba = np.zeros((60, 90, 4), np.uint8)
    rgba[..., 0] = np.arange(90)[None, :] * 2
    rgba[..., 3] = np.linspace(0, 255, 60).astype(np.uint8)[:, None]
    src = tmp_path / "logo.png"
    Image.fromarray(np.rot90(rgba, 1), "RGBA").save(src)
    written = writers.write_corrected_image(str(src), _result(src, 90), tmp_path / "o",
                                            cfg.output, source_cfg=cfg.source)
    with Image.open(written["image"]) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)


def test_corrected_transparent_skew_needs_png(cfg, tmp_path):
    page, tilted = _tilted_page(ccw_deg=-4.0)
    src = _save_png(tilted, tmp_path / "page.png")
    out_cfg = _out_cfg(cfg, fill="transparent", skew_crop=False)
    written = writers.write_corrected_image(src, _result(src, 0, -4.0), tmp_path / "o", out_cfg,
                                            source_cfg=cfg.source)
    with Image.open(written["image"]) as im:
        rgba = np.asarray(im)
    assert rgba.shape[2] == 4 and rgba[0, 0, 3] == 0 and rgba[rgba.shape[0] // 2, :, 3].max() == 255
    _, edges = _dark_box_edges(rgba[..., :3] * (rgba[..., 3:] > 128) + 255 * (rgba[..., 3:] <= 128))
    assert all(e.max() - e.min() <= 1 for e in edges)
    cropped = writers.write_corrected_image(src, _result(src, 0, -4.0), tmp_path / "c",
                                            _out_cfg(cfg, skew_crop=True), source_cfg=cfg.source)
    assert Image.open(cropped["image"]).size == Image.open(src).size


def test_corrected_image_skipped_over_the_size_limit(map_png, cfg, tmp_path):
    _, src = map_png
    out = tmp_path / "o"
    assert writers.write_corrected_image(str(src), _result(src), out,
                                         _out_cfg(cfg, image_max_pixels=1000),
                                         source_cfg=cfg.source) == {}
    assert not out.exists() or _files(out) == []
    with pytest.raises(ValueError, match="failed"):
        writers.write_corrected_image(str(src), DetectionResult(str(src), error="boom"), out,
                                      cfg.output, source_cfg=cfg.source)


def test_corrected_failure_midway_leaves_nothing(map_png, cfg, tmp_path, monkeypatch):
    _, src = map_png
    out = tmp_path / "o"

    def fail(*a, **k):  # after the image and the angle file were written to temporaries
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_writer, "_image_meta", fail)
    with pytest.raises(WriteError, match="No space left"):
        writers.write_corrected_image(str(src), _result(src, 90), out, cfg.output,
                                      source_cfg=cfg.source)
    assert _files(out) == []


def test_doctests():
    assert doctest.testmod(writers, optionflags=doctest.ELLIPSIS).failed == 0
    assert image_writer._format_deg(87.4) == "87.4" and image_writer._format_deg(-0.0001) == "0"


@pytest.mark.parametrize("skew", [0.0, 3.0])
def test_zarr_damaged_tiles_fail_with_the_file_named_and_leave_nothing(skew, map_png, cfg,
                                                                       tmp_path):
    """A tiled TIFF whose header is fine but whose tiles are damaged: the exact path (decoded
    at once) and the skewed path (decoded lazily inside libvips' rotation) both end in one
    SlideReadError naming the file, and no store is left behind."""
    import pyvips

    upright, _ = map_png
    good = tmp_path / "good.tif"
    pyvips.Image.new_from_array(upright).tiffsave(str(good), tile=True, tile_width=256,
                                                  tile_height=256, compression="jpeg")
    data = bytearray(good.read_bytes())
    a, b = len(data) * 3 // 10, len(data) * 6 // 10
    data[a:b] = bytes(b - a)  # zero the middle of the tile data
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    plan = writers.plan_zarr(upright.shape[1], upright.shape[0], 90, skew, _out_cfg(cfg))
    with pytest.raises(SlideReadError, match=r"bad\.tif: cannot read region"):
        writers.write_ome_zarr(plan, str(bad), cfg.source, tmp_path / "out" / "bad.zarr")
    assert _files(tmp_path / "out") == []
