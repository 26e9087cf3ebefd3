"""End to end on Ray, on big images made on the fly from real dev images.

A pyramidal BigTIFF of over a gigapixel (a mosaic of dev document pages, stored losslessly)
and an Aperio-style .svs, each turned by 0/90/180/270: rayrot must name the turn and its
OME-Zarr output must match the upright original (pixel-exact for the lossless TIFF).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import dev_images
from images import mosaic, page_sheet, rot90_vips, small_item_mosaic, write_pyramid_tiff, write_svs
from rayrot.config import load_config
from rayrot.plan import context_boxes

GIGA_SIDE = 32768  # 32768^2 = 1.07 gigapixels


@pytest.fixture(scope="module")
def giga_dir(tmp_path_factory, dev):
    """The upright mosaic and its three turned copies, LZW tiles (lossless), pyramidal BigTIFF."""
    import pyvips

    d = tmp_path_factory.mktemp("giga")
    upright = mosaic(dev("documents"), GIGA_SIDE, GIGA_SIDE)
    upright.tiffsave(str(d / "up.tif"), tile=True, tile_width=512, tile_height=512, pyramid=True,
                     compression="lzw", predictor="horizontal", bigtiff=True)
    src = pyvips.Image.new_from_file(str(d / "up.tif"), access="sequential")
    for k in (1, 2, 3):
        rot90_vips(src, k).tiffsave(str(d / f"rot{k}.tif"), tile=True, tile_width=512,
                                    tile_height=512, pyramid=True, compression="lzw",
                                    predictor="horizontal", bigtiff=True)
    return d


def _zarr_level(path, level=0):
    import zarr

    return zarr.open_group(str(path), mode="r")[str(level)]


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_gigapixel_tiff_turned_by_k_is_detected_and_corrected_exactly(giga_dir, k, ray_session, tmp_path):
    import pyvips

    import rayrot

    src = giga_dir / ("up.tif" if k == 0 else f"rot{k}.tif")
    cfg = load_config(overrides=["output.formats=[parquet, zarr]"])
    [res] = rayrot.correct([src], tmp_path, cfg)
    assert res.error is None
    assert res.width * res.height >= 10 ** 9
    assert res.angle == 90 * k, res
    assert res.confidence >= 0.6
    # Scored from a coarse level, not from the gigapixel base: at most the grid's tiles, the
    # whole-image view and the context crops.
    n_crops = len(context_boxes(GIGA_SIDE, GIGA_SIDE, cfg.tiling.context_share))
    coarse_views = int(cfg.tiling.global_view) + n_crops * int(cfg.tiling.context_crops)
    assert res.level > 0 and res.tiles_scored <= cfg.tiling.max_tiles + coarse_views
    arr = _zarr_level(tmp_path / f"{src.stem}.zarr")
    assert arr.shape == (3, GIGA_SIDE, GIGA_SIDE)
    up = pyvips.Image.new_from_file(str(giga_dir / "up.tif"))
    rng = np.random.default_rng(k)
    corners = [(0, 0), (GIGA_SIDE - 300, 0), (0, GIGA_SIDE - 300), (GIGA_SIDE - 300, GIGA_SIDE - 300)]
    windows = corners + [tuple(int(v) for v in rng.integers(0, GIGA_SIDE - 300, 2)) for _ in range(6)]
    for x, y in windows:
        want = np.ndarray(buffer=up.crop(x, y, 300, 300).write_to_memory(), dtype=np.uint8,
                          shape=(300, 300, 3))
        got = np.moveaxis(arr[:, y:y + 300, x:x + 300], 0, -1)
        np.testing.assert_array_equal(got, want, err_msg=f"window x={x} y={y}")
    # The coarsest level looks like the upright image shrunk.
    levels = sorted(int(k) for k in __import__("zarr").open_group(str(tmp_path / f"{src.stem}.zarr"), mode="r").array_keys())
    coarse = np.moveaxis(_zarr_level(tmp_path / f"{src.stem}.zarr", levels[-1])[:], 0, -1)
    ref = up.resize(coarse.shape[1] / GIGA_SIDE, vscale=coarse.shape[0] / GIGA_SIDE)
    ref = np.ndarray(buffer=ref.write_to_memory(), dtype=np.uint8, shape=(ref.height, ref.width, 3))
    assert np.abs(ref.astype(int) - coarse.astype(int)).mean() < 6
    assert (tmp_path / "images.parquet").exists() and (tmp_path / "tiles.parquet").exists()


@pytest.fixture(scope="module")
def svs_upright(dev):
    """Upright content for the slides: a 6144 x 4096 mosaic of dev document pages."""
    img = mosaic(dev("documents")[5:], 6144, 4096)
    return np.ndarray(buffer=img.write_to_memory(), dtype=np.uint8, shape=(4096, 6144, 3))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_svs_turned_by_k_is_detected_and_corrected(svs_upright, k, ray_session, tmp_path):
    from PIL import Image

    import rayrot

    turned = np.ascontiguousarray(np.rot90(svs_upright, k))
    levels = [turned]
    for _ in range(3):
        h, w = levels[-1].shape[:2]
        levels.append(np.asarray(Image.fromarray(levels[-1]).resize((w // 4, h // 4), Image.BOX)))
    path = write_svs(levels, tmp_path / f"slide{k}.svs")
    out = tmp_path / "out"
    cfg = load_config(overrides=["output.formats=[parquet, zarr]"])
    [res] = rayrot.correct([path], out, cfg)
    assert res.error is None and res.angle == 90 * k, res
    arr = np.moveaxis(_zarr_level(out / f"slide{k}.zarr")[:], 0, -1)
    assert arr.shape == svs_upright.shape
    # JPEG tiles: close to the upright original, not bit-exact.
    assert np.abs(arr.astype(int) - svs_upright.astype(int)).mean() < 4


def test_detect_list_keeps_order_and_reports_bad_files(dev, ray_session, tmp_path):
    import rayrot

    good = dev("documents")[:2]
    bad = tmp_path / "nothing.png"
    results = rayrot.detect([good[0], bad, good[1]])
    assert [r.path for r in results] == [str(good[0]), str(bad), str(good[1])]
    assert results[1].error and "nothing.png" in results[1].error
    assert results[0].ok and results[2].ok
    # A single path gives a single result, with its tiles as plain records.
    one = rayrot.detect(good[0])
    assert one.angle == 0
    kinds = [t.kind for t in one.tiles]
    assert kinds.count("orientation") == one.tiles_scored and "skew" in kinds


def test_ray_dataset_path(dev, ray_session):
    import ray

    import rayrot

    paths = [str(p) for p in dev("documents")[:4]]
    ds = ray.data.from_items([{"path": p} for p in paths])
    rows = sorted(rayrot.detect_dataset(ds).take_all(), key=lambda r: r["path"])
    assert [r["path"] for r in rows] == sorted(paths)
    assert all(r["angle"] == 0 and r["error"] is None for r in rows)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_skewed_turned_page_comes_out_upright_and_straight(dev, ray_session, tmp_path, k):
    """A page tilted 6 degrees and turned by 90k: the OME-Zarr and the corrected image both
    show the original page, upright and straight (centre crop against the original)."""
    from PIL import Image

    import rayrot
    from conftest import read_rgb

    page = read_rgb(dev("documents")[8])
    tilted = np.asarray(Image.fromarray(page).rotate(6.0, Image.BICUBIC, expand=True,
                                                     fillcolor=(255, 255, 255)))
    Image.fromarray(np.ascontiguousarray(np.rot90(tilted, k))).save(tmp_path / "in.png")
    cfg = load_config(overrides=["output.formats=[zarr, image]"])
    [res] = rayrot.correct([tmp_path / "in.png"], tmp_path / "out", cfg)
    assert res.error is None and res.angle == 90 * k, res
    assert res.skew_deg == pytest.approx(6.0, abs=0.1)
    zarr_rgb = np.moveaxis(_zarr_level(tmp_path / "out" / "in.zarr")[:], 0, -1)
    image_rgb = np.asarray(Image.open(tmp_path / "out" / "in.corrected.png").convert("RGB"))
    h, w = page.shape[:2]

    def small(a):  # 4x4 block means: a pixel or two of rounding in the centring does not matter
        a = a[: a.shape[0] // 4 * 4, : a.shape[1] // 4 * 4].mean(axis=2)
        return a.reshape(a.shape[0] // 4, 4, a.shape[1] // 4, 4).mean(axis=(1, 3))

    grey = small(page)
    for out in (zarr_rgb, image_rgb):
        H, W = out.shape[:2]
        assert H >= h and W >= w
        y0, x0 = (H - h) // 2, (W - w) // 2
        crop = small(out[y0:y0 + h, x0:x0 + w])
        # Straight and upright: the crop correlates with the original page, while the same
        # crop turned by 180 degrees, or the tilted page, would not.
        corr = np.corrcoef(crop.ravel(), grey.ravel())[0, 1]
        assert corr > 0.8, corr
        assert np.corrcoef(crop[::-1, ::-1].ravel(), grey.ravel())[0, 1] < 0.5


def test_finer_look_through_the_actor_pool(ray_session, tmp_path):
    """The driver's scheduling of a gigapixel image's batches also takes the finer look when
    the first scale is too coarse (the same image as test_engine's, without Ray)."""
    import rayrot

    path = small_item_mosaic(dev_images, tmp_path / "m.tif")
    # the finer look's line above what the model is sure of at the first scale (as there)
    cfg = load_config(overrides=["skew.enabled=false", "tiling.refine_below_confidence=0.95"])
    res = rayrot.detect(path, config=cfg)
    assert res.angle == 90 and res.level == 1, res
    kinds = [t.kind for t in res.tiles]
    assert kinds.count("orientation") == res.tiles_scored
    assert {t.level for t in res.tiles} == {1}


def test_big_skewed_sheet_restarts_with_turned_tiles(dev, ray_session, tmp_path):
    """A pyramidal sheet of real pages tilted 30 degrees and turned 90: the driver sends tiles
    to the actors before the skew is known, and when the skew says tiles must be turned
    (skew.deskew_tiles_above_deg) it scores the image again with turned tiles. Unturned tiles
    leave this sheet undetermined under a strict vote (checked below without Ray), so only the
    restart gets 90."""
    import rayrot
    from rayrot.engine.local import analyze_image
    from rayrot.scorer import TileScorer

    sheet = page_sheet(dev("documents")[:12], 4, 3, 30.0).colourspace("srgb")
    path = str(write_pyramid_tiff(rot90_vips(sheet, 1), tmp_path / "sheet.tif"))
    one_look = ["tiling.refine_steps=0",  # (a finer look would start with turned tiles anyway)
                "vote.undetermined_threshold=0.45", "vote.min_margin=0.1",
                "vote.confidence_floor=0.4", "vote.global_weight=8"]
    res = rayrot.detect(path, load_config(overrides=one_look))
    assert res.error is None and res.angle == 90, res
    assert res.skew_deg == pytest.approx(30.0, abs=0.1)
    flat = load_config(overrides=one_look + ["skew.deskew_tiles_above_deg=90"])
    assert analyze_image(path, flat, TileScorer(flat)).angle is None


def _same_answer(a, b) -> None:
    assert a.error is None and b.error is None, (a, b)
    for field in ("angle", "confidence", "probabilities", "skew_deg", "skew_confidence", "level",
                  "scale", "tiles_scored", "tiles_skipped", "tiles_abstained", "width", "height"):
        assert getattr(a, field) == getattr(b, field), (field, a, b)
    assert a.tiles == b.tiles


def test_ray_and_in_process_drivers_agree(dev, ray_session, tmp_path):
    """The same images through the Ray scheduler (several actors, batches coming back in any
    order) and through the in-process loop give identical results: both drive one ImageJob.
    A pyramid (its batches spread over the actors, with a skew restart and a finer look
    possible), an ordinary page (cascade on) and the same page with the cascade off."""
    import torch
    from PIL import Image

    import rayrot
    from rayrot.engine.local import analyze_image
    from rayrot.scorer import TileScorer

    sheet = page_sheet(dev("documents")[:6], 3, 2, 11.0).colourspace("srgb")
    pyramid = str(write_pyramid_tiff(rot90_vips(sheet, 3), tmp_path / "sheet.tif"))
    page = np.rot90(np.asarray(Image.open(dev("documents")[1]).convert("RGB")), 1)
    Image.fromarray(np.ascontiguousarray(page)).save(tmp_path / "page.png")
    paths = [pyramid, str(tmp_path / "page.png")]
    for overrides in ([], ["scorer.cascade_stop_confidence=null"]):
        cfg = load_config(overrides=["scorer.batch_size=4", "scorer.first_batch_size=3",
                                     "scorer.num_actors=2"] + overrides)
        on_ray = rayrot.detect(paths, cfg)
        scorer = TileScorer(cfg, device="cpu")
        # the actors' thread count: float sums in another order would differ in the last bits
        threads = torch.get_num_threads()
        torch.set_num_threads(cfg.scorer.cpu_threads)
        try:
            here = [analyze_image(p, cfg, scorer) for p in paths]
        finally:
            torch.set_num_threads(threads)
        for a, b in zip(on_ray, here):
            _same_answer(a, b)
        assert on_ray[0].tiles_scored > 1
