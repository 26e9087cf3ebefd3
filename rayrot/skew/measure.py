"""The one way an image's fine skew is measured: grey tiles read through its reader at the skew
scale, plus the whole image in one tile, handed to :func:`~rayrot.skew.estimate.estimate_skew`.

The product (the per-image engine), the tests and ``benchmarks/skew.py`` all measure through
:func:`measure_skew`; :func:`estimate_skew_array` is the same for an image held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import SkewConfig, TilingConfig
from ..io import Slide, luma
from ..plan import background_mask, content_share, grid_boxes, scale_for_long_side, spread_sample
from .arrays import global_skew_tile
from .border import _border_skew
from .estimate import _estimate
from .record import SkewEstimate
from .util import _check_max_angle

__all__ = ["SkewMeasurement", "measure_skew", "estimate_skew_array"]


@dataclass(frozen=True)
class SkewMeasurement:
    """What :func:`measure_skew` found."""

    estimate: SkewEstimate  # the image's skew (clockwise degrees) and its confidence
    # tiles-table columns of the tiles measured (path, level, x, y, w, h: level pixels; x0, y0,
    # w0, h0: level-0 pixels; is_global; skew_deg, skew_confidence: each tile's own estimate)
    tiles: dict[str, np.ndarray]


def measure_skew(slide: Slide, thumbnail: np.ndarray, cfg: SkewConfig,
                 tiling: TilingConfig) -> SkewMeasurement:
    """Fine skew of an opened image.

    Grey tiles (``skew.tile_px``, on a grid with ``skew.tile_overlap_px``) are read at the scale
    where the image's long side is about ``skew.target_long_px`` (from the level just above
    it); background tiles (judged on ``thumbnail`` by ``tiling``'s background rules) are
    dropped and at most ``skew.max_tiles - 1`` are kept, spread out; the whole image is added
    as one more tile (page edges and long rules, seen whole). A gigapixel image whose estimate
    would be declined (confidence below ``skew.min_confidence``) is measured again
    ``skew.refine_factor`` times finer, up to ``skew.refine_steps`` times (fine print can be too
    small at the first scale), and the most confident estimate is kept.

    Parameters
    ----------
    slide : Slide
        The image's reader.
    thumbnail : (h, w, 3) uint8 ndarray
        The whole image shrunk (its long side ``tiling.thumbnail_px``), for the background mask.
    """
    target = cfg.target_long_px
    best = _measure_at(slide, thumbnail, cfg, tiling, target)
    for _ in range(cfg.refine_steps if slide.is_gigapixel else 0):
        if best.estimate.confidence >= cfg.min_confidence or target >= max(slide.width, slide.height):
            break
        target = round(target * cfg.refine_factor)
        finer = _measure_at(slide, thumbnail, cfg, tiling, target)
        if finer.estimate.confidence > best.estimate.confidence:
            best = finer
    return best


def estimate_skew_array(gray: np.ndarray, cfg: SkewConfig,
                        tiling: TilingConfig | None = None) -> SkewEstimate:
    """:func:`measure_skew` of an image held in memory ((H, W) or (H, W, 3) uint8), read by
    the same rules as a file. ``tiling`` defaults to the default config's."""
    from ..config import load_config

    run = load_config()
    tiling = tiling or run.tiling
    slide = Slide.from_array(gray, run.source)
    return measure_skew(slide, slide.thumbnail(tiling.thumbnail_px), cfg, tiling).estimate


def _measure_at(slide: Slide, thumbnail: np.ndarray, cfg: SkewConfig, tiling: TilingConfig,
                target_long_px: int) -> SkewMeasurement:
    """The skew estimate from tiles at the scale where the image's long side is about
    ``target_long_px`` (read from the level just above it), and its tiles-table rows."""
    sizes = [(lv.width, lv.height) for lv in slide.levels]
    level, scale = scale_for_long_side(sizes, target_long_px)
    lw, lh = sizes[level]
    pw, ph = max(1, int(lw / scale)), max(1, int(lh / scale))  # skew-scale pixels
    boxes, _ = grid_boxes(pw, ph, cfg.tile_px, cfg.tile_overlap_px, cfg.min_edge_share)
    share = content_share(background_mask(thumbnail, tiling), boxes, pw, ph)
    keep = share >= tiling.min_content_share
    boxes, share = boxes[keep], share[keep]
    pick = spread_sample(boxes, share, max(cfg.max_tiles - 1, 1))
    tiles = [slide.read_scaled(level, scale, *map(int, boxes[i]), grey=True) for i in pick]
    weights = list(np.sqrt(share[pick]))
    whole = max(pw, ph) > cfg.tile_px
    if whole:
        view = luma(slide.thumbnail(cfg.whole_image_px))
        tiles.append(global_skew_tile(view, cfg.tile_px))
        weights.append(cfg.whole_image_weight)
    border = None  # looked for in the whole-image tile
    if tiles and not slide.is_gigapixel:
        # an ordinary image's whole level at the skew scale is one resize already made for its
        # tiles: its border is measured there, finer than in the whole-image tile
        whole_grey = slide.read_scaled(level, scale, 0, 0, pw, ph, grey=True)
        border = _border_skew(whole_grey, _check_max_angle(cfg.max_angle_deg)) or False
    est = (_estimate(tiles, np.asarray(weights), cfg, border) if tiles
           else SkewEstimate(0.0, 0.0, 0))
    return SkewMeasurement(est, _tile_rows(slide, est, level, scale, boxes[pick], whole))


def _tile_rows(slide: Slide, est: SkewEstimate, level: int, scale: float, boxes: np.ndarray,
               whole: bool) -> dict[str, np.ndarray]:
    """Tiles-table columns for the tiles :func:`_measure_at` measured (``boxes`` in pixels of
    the skew scale, then the whole-image tile when ``whole``), with each tile's own estimate
    from ``est``."""
    n_grid = len(boxes)
    n = n_grid + int(whole)
    per_tile = list(est.tiles) + [None] * (n - len(est.tiles))
    lv = slide.levels[level]
    box_l = np.round(np.asarray(boxes, np.float64).reshape(-1, 4) * scale).astype(np.int64)
    box_0 = np.round(box_l * lv.downsample).astype(np.int64)
    if whole:
        box_l = np.vstack([box_l, [[0, 0, lv.width, lv.height]]])
        box_0 = np.vstack([box_0, [[0, 0, slide.width, slide.height]]])
    return {
        "path": np.array([slide.path] * n, dtype=object), "level": np.full(n, level, np.int32),
        "x": box_l[:, 0], "y": box_l[:, 1], "w": box_l[:, 2], "h": box_l[:, 3],
        "x0": box_0[:, 0], "y0": box_0[:, 1], "w0": box_0[:, 2], "h0": box_0[:, 3],
        "is_global": np.arange(n) >= n_grid,
        "skew_deg": np.array([np.nan if e is None else e.angle_deg for e in per_tile]),
        "skew_confidence": np.array([np.nan if e is None else e.confidence for e in per_tile]),
    }
