"""The per-image engine without Ray: TileScorer called directly, one image through ImageJob."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import dev_images, has_dev_data, read_rgb, shipped_images
from images import page_sheet, small_item_mosaic, write_pyramid_tiff
from rayrot.engine.job import ImageJob, measure_skew, prepare_image, tile_batches
from rayrot.engine.local import analyze_image
from rayrot.config import load_config
from rayrot.output.parquet import write_tiles_parquet
from rayrot.output.tables import tile_records_table


@pytest.fixture(scope="module")
def scorer():
    import torch

    from rayrot.scorer import TileScorer

    torch.set_num_threads(2)
    return TileScorer(load_config(), device="cpu")


@pytest.mark.parametrize("k", range(4))
def test_turned_document_page(dev, scorer, tmp_path, k):
    page = read_rgb(dev("documents")[2])
    Image.fromarray(np.ascontiguousarray(np.rot90(page, k))).save(tmp_path / "p.png")
    res = analyze_image(str(tmp_path / "p.png"), scorer.cfg, scorer)
    assert res.error is None
    assert res.angle == 90 * k, res
    assert res.confidence > 0.8
    kinds = [t.kind for t in res.tiles]
    assert kinds.count("orientation") == res.tiles_scored > 0
    assert res.tiles_scored + res.tiles_skipped >= len(prepare_image(str(tmp_path / "p.png"),
                                                                     scorer.cfg).plan.tiles)


def test_batch_scores_equal_tile_by_tile(dev, scorer):
    path = str(dev("maps")[0])
    prep = prepare_image(path, scorer.cfg)
    [batch] = tile_batches(path, prep.plan, batch_size=64, first_batch_size=64)
    whole = scorer(batch)["probs"]
    single = np.concatenate([scorer({k: v[i:i + 1] for k, v in batch.items()})["probs"]
                             for i in range(len(batch["x"]))])
    np.testing.assert_allclose(whole, single, atol=1e-5)


def test_tile_pixels_match_the_image(dev, scorer):
    path = dev("photos")[1]
    rgb = read_rgb(path)
    prep = prepare_image(str(path), scorer.cfg)
    [batch] = tile_batches(str(path), prep.plan, 64, 64)
    tiles = scorer.read_batch(batch)
    assert prep.plan.scale == 1.0
    grid = ~batch["is_global"] & ~batch["is_context"]
    for i in np.flatnonzero(grid)[:5]:
        x, y, w, h = (int(batch[c][i]) for c in "xywh")
        np.testing.assert_array_equal(tiles[i][:h, :w], rgb[y:y + h, x:x + w])
    # a context crop is its square of the image, resized to the tile
    [i] = np.flatnonzero(batch["is_context"])[:1]
    x, y, w, h = (int(batch[c][i]) for c in "xywh")
    assert w == h > tiles.shape[1]
    want = np.asarray(Image.fromarray(np.ascontiguousarray(rgb[y:y + h, x:x + w])).resize(
        tiles.shape[1:3], Image.BILINEAR, reducing_gap=2.0))
    assert np.abs(tiles[i].astype(int) - want).mean() < 1.0


def test_blank_page_is_undetermined(scorer, tmp_path):
    Image.new("RGB", (900, 1200), (250, 250, 248)).save(tmp_path / "blank.png")
    res = analyze_image(str(tmp_path / "blank.png"), scorer.cfg, scorer)
    assert res.error is None and res.angle is None and res.tiles_scored == 0


class _FixedScorer:
    """Stands in for TileScorer: every tile says the same thing."""

    model_name, model_version = "fixed", "0"

    def __init__(self, probs):
        self.probs = np.asarray(probs, np.float32)
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        return {**batch, "probs": np.tile(self.probs, (len(batch["x"]), 1))}


def test_early_stop_scores_fewer_tiles(dev, tmp_path):
    import pyvips

    # A big page mosaic: many tiles, so the remaining weight can fall below the lead.
    page = read_rgb(dev("documents")[4])
    pyvips.Image.new_from_array(np.tile(page, (3, 3, 1))).write_to_file(str(tmp_path / "p.png"))
    cfg = load_config(overrides=["scorer.batch_size=4", "scorer.first_batch_size=4",
                                 "scorer.cascade_stop_confidence=null", "vote.min_margin=0.1",
                                 "tiling.ordinary_grid_below_confidence=null"])
    n_planned = len(prepare_image(str(tmp_path / "p.png"), cfg).plan.tiles)
    sure = analyze_image(str(tmp_path / "p.png"), cfg, _FixedScorer([0.97, 0.01, 0.01, 0.01]))
    assert sure.angle == 0 and sure.tiles_scored < n_planned
    # Split evidence: undetermined, and never decided before most of the mass is in.
    unsure = analyze_image(str(tmp_path / "p.png"), cfg, _FixedScorer([0.42, 0.40, 0.10, 0.08]))
    assert unsure.angle is None and unsure.tiles_scored > sure.tiles_scored
    off = analyze_image(str(tmp_path / "p.png"), cfg.replace(vote={"early_stop": False}),
                        _FixedScorer([0.97, 0.01, 0.01, 0.01]))
    assert off.tiles_scored == n_planned and off.angle == 0


@pytest.mark.parametrize("tilt", [-11.0, 4.0, 25.0])
def test_skewed_turned_page(dev, scorer, tmp_path, tilt):
    """A page tilted (PIL turns counter-clockwise) and turned: the 4-way angle and the skew."""
    page = Image.fromarray(read_rgb(dev("documents")[6]))
    tilted = page.rotate(tilt, Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(tilted), 3))).save(tmp_path / "s.png")
    # skew reported by detection too (by default only correcting measures it)
    res = analyze_image(str(tmp_path / "s.png"), scorer.cfg.replace(skew={"after_first_look": True}),
                        scorer)
    assert res.angle == 270, res
    assert res.skew_deg == pytest.approx(tilt, abs=0.15)
    # The tiles table also holds the tiles the skew estimator measured, each with its own angle:
    # most text tiles agree with the image's skew, and the whole-image tile is among them.
    skew_rows = res.tiles_frame().query("kind == 'skew'").astype(object).to_dict("list")
    n = len(skew_rows["x"])
    assert n >= 3 and skew_rows["is_global"].count(True) == 1
    skew_tiles = [t for t in res.tiles if t.kind == "skew"]
    assert all(t.p_0 is None for t in skew_tiles) and None not in [t.skew_confidence for t in skew_tiles]
    angles = np.array(skew_rows["skew_deg"], np.float64)
    assert np.median(angles) == pytest.approx(tilt, abs=0.15)
    assert max(skew_rows["x0"][i] + skew_rows["w0"][i] for i in range(n)) <= res.width
    assert max(skew_rows["y0"][i] + skew_rows["h0"][i] for i in range(n)) <= res.height
    table = tile_records_table(res.tiles)
    back = pq.read_table(write_tiles_parquet([table], tmp_path / "tiles.parquet"))
    assert back.equals(table.cast(back.schema)) and back.num_rows == len(res.tiles)
    prep = prepare_image(str(tmp_path / "s.png"), scorer.cfg)
    assert measure_skew(prep, scorer.cfg).angle_deg == pytest.approx(tilt, abs=0.15)


def test_finer_look_when_the_first_scale_is_too_coarse(scorer, tmp_path):
    path = str(small_item_mosaic(dev_images, tmp_path / "m.tif"))
    # the line that calls for a finer look, above what the model is sure of at the first scale,
    # where the items are a few pixels wide (0.70 on the dev pages, 0.89 on the shipped ones)
    cfg = scorer.cfg.replace(skew={"enabled": False}, tiling={"refine_below_confidence": 0.95})
    coarse = analyze_image(path, cfg.replace(tiling={"refine_steps": 0}), scorer)
    # too coarse to judge: undetermined, or below that line
    assert coarse.level == 2, coarse
    assert coarse.angle is None or coarse.confidence < cfg.tiling.refine_below_confidence, coarse
    finer = analyze_image(path, cfg, scorer)
    assert finer.angle == 90 and finer.level == 1 and finer.scale == coarse.scale, finer
    # Only the finer look's tiles vote (and are in the table); none of them is a whole-image view.
    scored = [t for t in finer.tiles if t.kind == "orientation"]
    assert len(scored) == finer.tiles_scored and {t.level for t in scored} == {1}
    assert not any(t.is_global for t in scored)
    assert finer.tiles_skipped >= 0
    assert max(t.x0 + t.w0 for t in scored) <= 10240


@pytest.mark.parametrize("tilt", [-9.8, 12.7])
def test_finer_skew_look_when_text_is_too_fine_at_the_first_scale(dev, tmp_path, tilt):
    """A sheet of 6 x 5 pages, tilted: at the first skew scale (long side 2048) its text lines
    are a few pixels apart and the estimate declines; as a pyramid (gigapixel) it is measured
    again twice as fine and answers. The same sheet as an ordinary image takes no finer look."""
    portrait = [p for p in dev("documents") if _is_portrait(p)]
    # the shipped pages hold a little less text than the dev pages: one more row and column
    # makes their lines as fine at the first scale
    cols, rows = (6, 5) if has_dev_data() else (7, 6)
    sheet = page_sheet(portrait, cols, rows, tilt)
    path = str(write_pyramid_tiff(sheet, tmp_path / "sheet.tif"))
    cfg = load_config()
    once = cfg.replace(skew={"refine_steps": 0})
    coarse = prepare_image(path, once)
    first = measure_skew(coarse, once)
    assert first.angle_deg == 0.0 and first.confidence < cfg.skew.min_confidence, first
    prep = prepare_image(path, cfg)
    assert prep.slide.is_gigapixel
    est = measure_skew(prep, cfg)
    assert est.angle_deg == pytest.approx(tilt, abs=0.1) and est.confidence >= cfg.skew.min_confidence
    # The tiles table holds the finer look's tiles only, each with its own estimate.
    rows = prep.skew_tiles
    assert set(rows["level"].tolist()) == {coarse.skew_tiles["level"][0] - 1}
    assert np.nanmedian(rows["skew_deg"]) == pytest.approx(tilt, abs=0.15)
    assert (rows["x0"] + rows["w0"]).max() <= prep.slide.width
    assert (rows["y0"] + rows["h0"]).max() <= prep.slide.height
    sheet.jpegsave(str(tmp_path / "sheet.jpg"), Q=90)
    ordinary = prepare_image(str(tmp_path / "sheet.jpg"), cfg)
    assert not ordinary.slide.is_gigapixel
    same = measure_skew(ordinary, cfg)
    assert same.angle_deg == 0.0 and same.confidence < cfg.skew.min_confidence, same


def _is_portrait(path) -> bool:
    with Image.open(path) as im:
        return im.height > im.width


class _ScriptedScorer(_FixedScorer):
    """The whole-image view says ``view`` (and records whether it was scored with TTA); every
    other tile says ``tiles``."""

    def __init__(self, view, tiles):
        super().__init__(tiles)
        self.view = np.asarray(view, np.float32)
        self.view_tta: list[bool] = []

    def __call__(self, batch):
        out = super().__call__(batch)
        glob = batch["is_global"]
        if glob.any():
            self.view_tta.append(bool(batch["rotation_tta"][0]))
        out["probs"] = np.where(glob[:, None], self.view, out["probs"]).astype(np.float32)
        return out


@pytest.fixture()
def page_png(tmp_path):
    page = read_rgb(shipped_images("documents")[0])
    Image.fromarray(page).save(tmp_path / "page.png")
    return str(tmp_path / "page.png")


def test_cascade_stops_on_a_sure_whole_image_view(page_png):
    cfg = load_config(overrides=["scorer.cascade_stop_confidence=0.9"])
    scorer = _ScriptedScorer([0.02, 0.95, 0.02, 0.01], [0.97, 0.01, 0.01, 0.01])
    res = analyze_image(page_png, cfg, scorer)
    # decided from the view alone, scored once without TTA, confidence = its top probability
    assert scorer.calls == 1 and scorer.view_tta == [False]
    assert res.angle == 90 and res.tiles_scored == 1
    assert res.confidence == pytest.approx(0.95, abs=1e-6)
    assert [t.is_global for t in res.tiles][:1] == [True]
    n_planned = len(prepare_image(page_png, cfg).plan.tiles)
    assert res.tiles_scored + res.tiles_skipped >= n_planned


def test_cascade_goes_on_to_the_tiles_and_keeps_the_view_in_the_vote(page_png):
    cfg = load_config(overrides=["scorer.cascade_stop_confidence=0.9", "vote.early_stop=false",
                                 "tiling.ordinary_grid_below_confidence=null"])
    unsure_view = [0.5, 0.3, 0.1, 0.1]
    scorer = _ScriptedScorer(unsure_view, [0.01, 0.01, 0.97, 0.01])
    res = analyze_image(page_png, cfg, scorer)
    n_planned = len(prepare_image(page_png, cfg).plan.tiles)
    assert res.angle == 180 and res.tiles_scored == n_planned
    # the view was scored once (no TTA) and counted: its row is in the table, once
    assert scorer.view_tta == [False]
    glob = [t.is_global for t in res.tiles if t.kind == "orientation"]
    assert glob.count(True) == 1
    # the same vote as without the cascade when the view says the same with and without TTA
    off = analyze_image(page_png, cfg.replace(scorer={"cascade_stop_confidence": None}),
                        _ScriptedScorer(unsure_view, [0.01, 0.01, 0.97, 0.01]))
    assert (off.angle, off.tiles_scored) == (res.angle, res.tiles_scored)
    assert off.confidence == pytest.approx(res.confidence) and off.probabilities == pytest.approx(res.probabilities)


def test_skew_after_a_decisive_first_look_only_when_wanted(page_png):
    """A tilted page the first look decides: its skew is measured after the decision with
    skew.after_first_look on, and not at all with it off (the default: nothing needs it)."""
    tilted = Image.open(page_png).rotate(3.0, Image.BICUBIC, expand=True, fillcolor=(255,) * 3)
    tilted.save(page_png)
    sure = _ScriptedScorer([0.97, 0.01, 0.01, 0.01], [0.97, 0.01, 0.01, 0.01])
    cfg = load_config(overrides=["scorer.cascade_stop_confidence=0.9",
                                 "skew.after_first_look=true"])
    measured = analyze_image(page_png, cfg, sure)
    assert measured.tiles_scored == 1 and measured.skew_deg == pytest.approx(3.0, abs=0.1)
    assert "skew" in measured.seconds
    skipped = analyze_image(page_png, cfg.replace(skew={"after_first_look": False}), sure)
    assert skipped.tiles_scored == 1 and skipped.angle == 0
    assert skipped.skew_deg == 0.0 and skipped.skew_confidence == 0.0
    assert "skew" not in skipped.seconds
    assert "skew" not in [t.kind for t in skipped.tiles]


@pytest.mark.parametrize("off", ["0", "null", "false"])
def test_cascade_off(page_png, off):
    cfg = load_config(overrides=[f"scorer.cascade_stop_confidence={off}"])
    assert not cfg.scorer.cascade_stop_confidence
    scorer = _ScriptedScorer([0.01, 0.97, 0.01, 0.01], [0.01, 0.97, 0.01, 0.01])
    res = analyze_image(page_png, cfg, scorer)
    assert res.angle == 90 and res.tiles_scored > 1 and True not in scorer.view_tta[:0]
    assert scorer.view_tta and all(scorer.view_tta)  # the view with TTA, as configured


def test_cascade_with_the_real_model_on_an_upright_page(page_png, scorer):
    """The real model, sure of a plain page from its whole-image view, stops there."""
    res = analyze_image(page_png, scorer.cfg, scorer)
    assert res.error is None and res.angle == 0
    if res.tiles_scored == 1:
        assert res.confidence >= scorer.cfg.scorer.cascade_stop_confidence


def test_scores_count_in_request_order_whatever_order_they_arrive(page_png):
    """The engine counts batches in the order it asked for them: the same result whether the
    scores come back in order or reversed (as from several actors)."""
    cfg = load_config(overrides=["scorer.batch_size=2", "scorer.first_batch_size=2",
                                 "scorer.cascade_stop_confidence=null", "skew.enabled=false"])
    scorer = _FixedScorer([0.9, 0.05, 0.03, 0.02])
    ordered = analyze_image(page_png, cfg, scorer)
    job = ImageJob(page_png, cfg)
    while not job.done:
        reqs = [r for r in job.next_batches() if job.wants(r)]
        for req in reversed(reqs):
            job.add(req, scorer(req.batch))
    shuffled = job.result(scorer.model_name, scorer.model_version)
    assert (shuffled.angle, shuffled.tiles_scored) == (ordered.angle, ordered.tiles_scored)
    assert shuffled.confidence == ordered.confidence


class _ViewScorer(_FixedScorer):
    """The whole-image view and the context crops say ``coarse``, the grid tiles ``grid``."""

    def __init__(self, coarse, grid):
        super().__init__(grid)
        self.coarse = np.asarray(coarse, np.float32)
        self.grid_tiles = 0

    def __call__(self, batch):
        out = super().__call__(batch)
        coarse = batch["is_global"] | batch["is_context"]
        self.grid_tiles += int((~coarse).sum())
        out["probs"] = np.where(coarse[:, None], self.coarse, out["probs"]).astype(np.float32)
        return out


@pytest.mark.parametrize("line", [0.6, "null"])
def test_an_ordinary_images_grid_waits_for_its_view_and_context_crops(page_png, line):
    cfg = load_config(overrides=["scorer.cascade_stop_confidence=null", "skew.enabled=false",
                                 "vote.early_stop=false", "tiling.ordinary_grid=true",
                                 f"tiling.ordinary_grid_below_confidence={line}"])
    tiles = prepare_image(page_png, cfg).plan.tiles
    n_coarse = sum(t.is_global or t.is_context for t in tiles)
    assert 2 < n_coarse <= 6 and len(tiles) > n_coarse  # (a blank quadrant has no crop)
    # the view and crops agree: the grid is scored only when the setting says always
    sure = _ViewScorer([0.01, 0.97, 0.01, 0.01], [0.01, 0.01, 0.97, 0.01])
    res = analyze_image(page_png, cfg, sure)
    if line == "null":
        assert res.tiles_scored == len(tiles) and sure.grid_tiles == len(tiles) - n_coarse
    else:
        assert res.angle == 90 and res.tiles_scored == n_coarse and sure.grid_tiles == 0
        assert res.confidence >= line
        assert not [t for t in res.tiles if not (t.is_global or t.is_context)]
    # they are unsure: the grid is scored, and its tiles and the coarse views vote together
    unsure = _ViewScorer([0.35, 0.25, 0.2, 0.2], [0.01, 0.01, 0.97, 0.01])
    res = analyze_image(page_png, cfg, unsure)
    assert res.angle == 180 and res.tiles_scored == len(tiles)
    assert unsure.grid_tiles == len(tiles) - n_coarse
    kinds = [(t.is_global, bool(t.is_context)) for t in res.tiles]
    assert kinds[:n_coarse] == [(True, False)] + [(False, True)] * (n_coarse - 1)
