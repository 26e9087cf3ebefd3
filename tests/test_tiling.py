import numpy as np
import pytest

from rayrot.plan import (background_mask, choose_scale, content_share, context_boxes, grid_boxes,
                         plan_tiles, refine_plan, spread_sample)


@pytest.mark.parametrize("w, h, tile, overlap", [(1000, 700, 224, 0), (1000, 700, 224, 32),
                                                   (224, 224, 224, 0), (5000, 300, 256, 16)])
def test_grid_covers_every_pixel_with_declared_overlap(w, h, tile, overlap):
    boxes, n_thin = grid_boxes(w, h, tile, overlap, min_edge_share=0.0)
    assert n_thin == 0
    cover = np.zeros((h, w), np.int32)
    for x, y, bw, bh in boxes:
        assert bw <= tile and bh <= tile
        cover[y:y + bh, x:x + bw] += 1
    assert cover.min() >= 1
    # Neighbours overlap by exactly `overlap` pixels.
    xs = sorted({int(b[0]) for b in boxes})
    if len(xs) > 1:
        assert xs[1] - xs[0] == tile - overlap


def test_thin_edge_tiles_are_dropped():
    boxes, n_thin = grid_boxes(500, 224, 224, 0, 0.5)
    # 500 = 224 + 224 + 52: the 52-px edge column is under half a tile.
    assert len(boxes) == 2 and n_thin == 1


def test_choose_scale_picks_the_coarsest_level_that_still_serves(cfg):
    levels = [(80000, 60000), (20000, 15000), (5000, 3750), (1250, 937)]
    level, scale = choose_scale(levels, False, cfg.tiling)
    assert level == 2 and scale == pytest.approx(5000 / cfg.tiling.target_long_px)
    # Ordinary images follow the adaptive resize.
    assert choose_scale([(1500, 1000)], True, cfg.tiling) == (0, 1.0)
    assert choose_scale([(3000, 2000)], True, cfg.tiling)[1] == pytest.approx(3000 / 2048)
    assert choose_scale([(6000, 4000)], True, cfg.tiling)[1] == pytest.approx(6000 / 1024)


def test_background_is_paper_glass_and_nodata(cfg):
    thumb = np.full((100, 100, 3), 245, np.uint8)  # paper
    thumb[:, :10] = 0  # no-data border
    thumb[40:60, 40:60] = (200, 120, 160)  # tissue
    thumb[70:72, 20:80] = 20  # a text line
    bg = background_mask(thumb, cfg.tiling)
    assert bg[0, 0] and bg[50, 90] and not bg[50, 50] and not bg[71, 50]
    share = content_share(bg, np.array([[40, 40, 20, 20], [80, 0, 20, 20]]), 100, 100)
    assert share[0] == pytest.approx(1.0) and share[1] == 0.0


def test_plan_skips_background_caps_and_orders_center_first(cfg):
    thumb = np.full((512, 512, 3), 250, np.uint8)
    thumb[128:384, 64:448] = (120, 80, 140)  # content in the middle
    level_sizes = [(40000, 40000), (10000, 10000), (2500, 2500)]
    plan = plan_tiles(level_sizes, False, thumb, cfg.tiling.__class__(
        **{**cfg.tiling.__dict__, "max_tiles": 12}), cfg.vote.center_sigma)
    grid = [t for t in plan.tiles if not t.is_global and not t.is_context]
    assert plan.tiles[0].is_global and all(t.is_context for t in plan.tiles[1:6])
    assert len(grid) == 12 and plan.n_over_cap > 0 and plan.n_background > 0
    weights = [t.center_weight for t in grid]
    assert weights == sorted(weights, reverse=True)
    for t in grid:  # every kept tile touches the content
        cx, cy = (t.x + t.w / 2) / plan.plan_width, (t.y + t.h / 2) / plan.plan_height
        assert 0.2 < cy < 0.8 and 0.08 < cx < 0.92
    # Level-0 boxes scale back by level downsample times plan scale.
    x0, y0, w0, h0 = plan.level0_box(grid[0])
    f = plan.scale * plan.downsample
    assert (w0, h0) == (round(grid[0].w * f), round(grid[0].h * f))


def test_blank_image_has_no_tiles(cfg):
    plan = plan_tiles([(3000, 2000)], True, np.full((200, 300, 3), 255, np.uint8), cfg.tiling,
                      cfg.vote.center_sigma)
    assert plan.tiles == () and plan.n_background > 0


def test_spread_sample_spreads():
    xs, ys = np.meshgrid(np.arange(10), np.arange(10))
    boxes = np.stack([xs.ravel() * 10, ys.ravel() * 10, np.full(100, 10), np.full(100, 10)], 1)
    idx = spread_sample(boxes, np.ones(100), 4)
    chosen = boxes[idx, :2]
    # Four farthest points of a square grid reach into every quadrant.
    quadrants = {(int(x >= 50), int(y >= 50)) for x, y in chosen}
    assert len(quadrants) == 4


def test_context_crops_follow_the_whole_view_and_a_turn_turns_them_onto_themselves(cfg):
    boxes = context_boxes(1200, 900, 0.5)
    assert (boxes[:, 2] == 450).all() and (boxes[:, 3] == 450).all()
    assert boxes[0].tolist() == [375, 225, 450, 450]  # centred
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 0] + 450 <= 1200).all()
    turned = context_boxes(900, 1200, 0.5)  # the image turned 90 degrees clockwise
    # (x, y) of a box in the turned image: (H - y - h, x)
    mapped = {(900 - y - h, x) for x, y, w, h in boxes.tolist()}
    assert mapped == {(x, y) for x, y, _, _ in turned.tolist()}

    thumb = np.full((300, 400, 3), 250, np.uint8)
    thumb[:150, :200] = (90, 120, 60)  # content in the top-left quadrant only
    plan = plan_tiles([(4000, 3000)], True, thumb, cfg.tiling, cfg.vote.center_sigma)
    context = [t for t in plan.tiles if t.is_context]
    # the crops with content: the centre one and the top-left one
    assert [(t.x, t.y) for t in context] == [(640, 384), (128, 0)]  # plan 2048 x 1536
    no_grid = plan_tiles([(4000, 3000)], True, thumb,
                         cfg.tiling.__class__(**{**cfg.tiling.__dict__, "ordinary_grid": False}),
                         cfg.vote.center_sigma)
    assert [t.is_global or t.is_context for t in no_grid.tiles] == [True] * 3
    # a gigapixel image's finer look has neither the whole view nor the context crops
    thumb = np.full((512, 512, 3), 120, np.uint8)
    sizes = [(40000, 40000), (10000, 10000), (2500, 2500)]
    first = plan_tiles(sizes, False, thumb, cfg.tiling, cfg.vote.center_sigma)
    finer = refine_plan(sizes, thumb, cfg.tiling, cfg.vote.center_sigma, first)
    assert sum(t.is_context for t in first.tiles) == 5
    assert not any(t.is_global or t.is_context for t in finer.tiles)
