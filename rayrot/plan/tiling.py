"""Which tiles of an image the model scores: plain functions over sizes and arrays.

The plan is made in a *plan space*: the pixels of one pyramid level divided by a
``scale`` (>= 1), chosen so the image's long side is about what the model should see
(``tiling.target_long_px`` for gigapixel images; the adaptive resize for ordinary
ones). Tiles are ``tile_px`` squares on a grid in that space; background tiles (judged on
a thumbnail), thin edge tiles and tiles over the cap are dropped; the kept tiles are
ordered center first, so an early stop of the vote keeps the most telling ones. Before them
come the coarse views: the whole image shrunk into one tile, and five context crops (squares
of ``tiling.context_share`` of the short side) that are shrunk into one tile each.

Nothing here decodes pixels: :func:`plan_tiles` takes the image's size, its levels and a
thumbnail, and returns a :class:`TilePlan`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..config import TilingConfig

__all__ = [
    "Tile",
    "TilePlan",
    "choose_scale",
    "refine_plan",
    "scale_for_long_side",
    "grid_boxes",
    "background_mask",
    "content_share",
    "center_weights",
    "context_boxes",
    "spread_sample",
    "plan_tiles",
]


@dataclass(frozen=True)
class Tile:
    """One square the model scores."""

    x: int  # plan-space pixels, origin top left (level pixels / scale)
    y: int
    w: int  # <= tile_px; edge tiles may be smaller
    h: int
    center_weight: float  # 0..1, fall-off with distance from the image center
    is_global: bool = False  # the whole image shrunk into one tile
    is_context: bool = False  # a context crop: a square larger than a tile, shrunk into one


@dataclass(frozen=True)
class TilePlan:
    """The tiles of one image, in the order they should be scored."""

    level: int  # pyramid level the tiles are read from
    scale: float  # level pixels per plan-space pixel (>= 1)
    downsample: float  # level-0 pixels per level pixel
    plan_width: int  # image size in plan space
    plan_height: int
    tiles: tuple[Tile, ...]
    n_background: int  # grid tiles dropped as background
    n_over_cap: int  # content tiles dropped by the tile cap
    n_thin_edge: int  # edge tiles dropped as too thin

    @property
    def n_skipped(self) -> int:
        return self.n_background + self.n_over_cap + self.n_thin_edge

    def level0_box(self, tile: Tile) -> tuple[int, int, int, int]:
        """The tile's rectangle in level-0 pixels ``(x, y, w, h)``."""
        if tile.is_global:
            f = self.scale * self.downsample
            return 0, 0, int(round(self.plan_width * f)), int(round(self.plan_height * f))
        f = self.scale * self.downsample
        return (int(round(tile.x * f)), int(round(tile.y * f)),
                int(round(tile.w * f)), int(round(tile.h * f)))


def ordinary_long_px(long_px: int, cfg: TilingConfig) -> int:
    """The adaptive resize of an ordinary image's long edge.

    >>> from rayrot.config import load_config
    >>> cfg = load_config().tiling
    >>> [ordinary_long_px(n, cfg) for n in (800, 2048, 3000, 4096, 6000)]
    [800, 2048, 2048, 2048, 1024]
    """
    if long_px <= cfg.ordinary_keep_below_px:
        return long_px
    if long_px <= cfg.ordinary_mid_limit_px:
        return cfg.ordinary_mid_px
    return cfg.ordinary_large_px


def choose_scale(level_sizes: list[tuple[int, int]], ordinary: bool,
                 cfg: TilingConfig) -> tuple[int, float]:
    """Pick the level to read and the extra shrink applied to it.

    Parameters
    ----------
    level_sizes : list of (width, height)
        Pyramid levels, finest first.
    ordinary : bool
        True for a single-level image small enough for the adaptive resize.

    Returns
    -------
    level : int
    scale : float
        Level pixels per plan-space pixel, >= 1.

    >>> from rayrot.config import load_config
    >>> cfg = load_config().tiling
    >>> choose_scale([(40000, 30000), (10000, 7500), (2500, 1875)], False, cfg)
    (2, 1.220703125)
    """
    w0, h0 = level_sizes[0]
    target = ordinary_long_px(max(w0, h0), cfg) if ordinary else cfg.target_long_px
    return scale_for_long_side(level_sizes, target)


def refine_plan(level_sizes: list[tuple[int, int]], thumbnail: np.ndarray, cfg: TilingConfig,
                center_sigma: float, previous: TilePlan) -> TilePlan | None:
    """A plan ``cfg.refine_factor`` times finer than ``previous`` (a gigapixel image's plan),
    without a second whole-image view; None when the image has nothing finer to show.

    >>> from rayrot.config import load_config
    >>> cfg = load_config().tiling
    >>> sizes = [(40000, 30000), (10000, 7500), (2500, 1875)]
    >>> thumb = np.zeros((384, 512, 3), np.uint8)
    >>> first = plan_tiles(sizes, False, thumb, cfg, 0.5)
    >>> finer = refine_plan(sizes, thumb, cfg, 0.5, first)
    >>> (first.level, first.plan_width), (finer.level, finer.plan_width)
    ((2, 2048), (1, 4096))
    """
    long_now = max(previous.plan_width, previous.plan_height)
    target = int(round(long_now * cfg.refine_factor))
    if long_now >= max(level_sizes[0]):
        return None  # already at full resolution
    finer = dataclasses.replace(cfg, target_long_px=target, global_view=False, context_crops=False)
    return plan_tiles(level_sizes, False, thumbnail, finer, center_sigma)


def scale_for_long_side(level_sizes: list[tuple[int, int]], target_long_px: int) -> tuple[int, float]:
    """The coarsest level whose long side still reaches ``target_long_px`` (level 0 if none
    does), and the shrink from that level to the target (>= 1)."""
    level = 0
    for i, (w, h) in enumerate(level_sizes):
        if max(w, h) >= target_long_px:
            level = i
    long_side = max(level_sizes[level])
    return level, max(1.0, long_side / target_long_px)


def grid_boxes(width: int, height: int, tile_px: int, overlap_px: int,
               min_edge_share: float) -> tuple[np.ndarray, int]:
    """Cut a ``width`` x ``height`` space into ``tile_px`` squares.

    Returns
    -------
    boxes : (N, 4) int64 ndarray
        ``x, y, w, h`` of each tile, row by row; edge tiles may be smaller.
    n_thin : int
        Edge tiles dropped because a side is below ``min_edge_share * tile_px``.

    >>> boxes, n_thin = grid_boxes(500, 300, 224, 0, 0.5)
    >>> boxes.tolist(), n_thin
    ([[0, 0, 224, 224], [224, 0, 224, 224]], 4)
    """
    step = tile_px - overlap_px
    xs = np.arange(0, max(width - overlap_px, 1), step)
    ys = np.arange(0, max(height - overlap_px, 1), step)
    boxes, n_thin = [], 0
    min_side = min_edge_share * tile_px
    for y in ys:
        h = min(tile_px, height - y)
        for x in xs:
            w = min(tile_px, width - x)
            # A whole image smaller than a tile is one tile, whatever its size.
            small_image = width < tile_px and height < tile_px
            if not small_image and (w < min(min_side, width) or h < min(min_side, height)):
                n_thin += 1
                continue
            boxes.append((x, y, w, h))
    return np.asarray(boxes, np.int64).reshape(-1, 4), n_thin


def background_mask(thumb: np.ndarray, cfg: TilingConfig) -> np.ndarray:
    """True where a thumbnail pixel is background: blank paper, glass or no-data.

    Parameters
    ----------
    thumb : (h, w, 3) uint8 ndarray

    Returns
    -------
    mask : (h, w) bool ndarray
    """
    # channel by channel: NumPy reduces a length-3 last axis ~10x slower than this
    r, g, b = thumb[..., 0], thumb[..., 1], thumb[..., 2]
    top = np.maximum(np.maximum(r, g), b)
    saturation = top - np.minimum(np.minimum(r, g), b)  # uint8, no overflow: max >= min
    grey = r.astype(np.uint16) + g + b
    white = (grey >= 3 * cfg.background_white_level) & (saturation <= cfg.background_max_saturation)
    black = top <= cfg.background_black_level
    return white | black


def content_share(background: np.ndarray, boxes: np.ndarray, plan_w: int, plan_h: int) -> np.ndarray:
    """Share of non-background thumbnail pixels under each box (plan-space boxes).

    Returns
    -------
    share : (N,) float64 ndarray, 0..1
    """
    th, tw = background.shape
    # Summed-area table: each box's sum in O(1); integer sums are exact and several times
    # faster than float ones (a 512-px thumbnail holds at most 2**18 pixels).
    sat = np.zeros((th + 1, tw + 1), np.int32)
    np.cumsum(np.cumsum(~background, axis=0, dtype=np.int32), axis=1, out=sat[1:, 1:])
    sx, sy = tw / plan_w, th / plan_h
    x0 = np.clip(np.floor(boxes[:, 0] * sx).astype(int), 0, tw - 1)
    y0 = np.clip(np.floor(boxes[:, 1] * sy).astype(int), 0, th - 1)
    x1 = np.clip(np.ceil((boxes[:, 0] + boxes[:, 2]) * sx).astype(int), x0 + 1, tw)
    y1 = np.clip(np.ceil((boxes[:, 1] + boxes[:, 3]) * sy).astype(int), y0 + 1, th)
    total = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
    return total / ((x1 - x0) * (y1 - y0)).astype(np.float64)


def center_weights(boxes: np.ndarray, plan_w: int, plan_h: int, sigma: float) -> np.ndarray:
    """Gaussian fall-off of each box center's distance from the image center.

    ``sigma`` is in units of the half diagonal: a box at a corner has
    ``exp(-1 / (2 sigma^2))``.

    >>> w = center_weights(np.array([[0, 0, 10, 10], [45, 45, 10, 10]]), 100, 100, 0.5)
    >>> bool(w[1] > w[0]), float(round(w[1], 3))
    (True, 1.0)
    """
    cx = boxes[:, 0] + boxes[:, 2] / 2 - plan_w / 2
    cy = boxes[:, 1] + boxes[:, 3] / 2 - plan_h / 2
    d = np.hypot(cx, cy) / (0.5 * np.hypot(plan_w, plan_h))
    return np.exp(-(d ** 2) / (2 * sigma ** 2))


def context_boxes(width: int, height: int, share: float) -> np.ndarray:
    """Five squares of ``share`` of the short side: centred on the image, then on the centres of
    its four quadrants (clipped inside it). Turning the image turns the set onto itself.

    >>> context_boxes(400, 200, 0.5).tolist()
    [[150, 50, 100, 100], [50, 0, 100, 100], [250, 0, 100, 100], [50, 100, 100, 100], [250, 100, 100, 100]]
    """
    side = max(1, int(round(min(width, height) * share)))
    boxes = []
    for cx, cy in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        x0 = int(np.clip(round(cx * width - side / 2), 0, width - side))
        y0 = int(np.clip(round(cy * height - side / 2), 0, height - side))
        boxes.append((x0, y0, side, side))
    return np.asarray(boxes, np.int64)


def spread_sample(boxes: np.ndarray, priority: np.ndarray, k: int) -> np.ndarray:
    """Choose ``k`` boxes spread over the image: greedy farthest-point sampling.

    Starts at the box of highest ``priority`` and repeatedly adds the box farthest from
    those chosen (ties broken by priority), so a capped plan still covers the content.

    Returns
    -------
    index : (min(k, N),) int64 ndarray, in the order chosen.
    """
    n = len(boxes)
    if n <= k:
        return np.arange(n)
    centers = boxes[:, :2] + boxes[:, 2:] / 2
    chosen = [int(np.argmax(priority))]
    dist = np.hypot(*(centers - centers[chosen[0]]).T)
    tie = priority / (priority.max() + 1e-12) * 1e-3 * (dist.max() + 1.0)
    for _ in range(k - 1):
        nxt = int(np.argmax(dist + tie))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(centers - centers[nxt]).T))
    return np.asarray(chosen, np.int64)


def plan_tiles(level_sizes: list[tuple[int, int]], ordinary: bool, thumbnail: np.ndarray,
               cfg: TilingConfig, center_sigma: float) -> TilePlan:
    """Plan the tiles of one image.

    Parameters
    ----------
    level_sizes : list of (width, height)
        Pyramid levels, finest first (one entry for a single-level image).
    ordinary : bool
        Single-level image small enough for the adaptive resize.
    thumbnail : (h, w, 3) uint8 ndarray
        The whole image shrunk (any size); background is judged on it.
    cfg : TilingConfig
    center_sigma : float
        Width of the center weight (``vote.center_sigma``).

    Returns
    -------
    plan : TilePlan
        In scoring order: the whole-image view when ``cfg.global_view``, the context crops
        with content when ``cfg.context_crops``, then the grid's content tiles (none for an
        ordinary image without ``cfg.ordinary_grid``), center first, capped at
        ``cfg.max_tiles``.
    """
    level, scale = choose_scale(level_sizes, ordinary, cfg)
    lw, lh = level_sizes[level]
    plan_w, plan_h = max(1, int(lw / scale)), max(1, int(lh / scale))
    downsample = level_sizes[0][0] / lw
    background = background_mask(thumbnail, cfg)
    boxes, n_thin = grid_boxes(plan_w, plan_h, cfg.tile_px, cfg.overlap_px, cfg.min_edge_share)
    share = content_share(background, boxes, plan_w, plan_h) if len(boxes) else np.zeros(0)
    keep = share >= cfg.min_content_share
    n_background = int((~keep).sum())
    boxes, share = boxes[keep], share[keep]
    weights = center_weights(boxes, plan_w, plan_h, center_sigma)
    pick = spread_sample(boxes, weights * (0.5 + share), cfg.max_tiles)
    n_over_cap = len(boxes) - len(pick)
    boxes, weights = boxes[pick], weights[pick]
    order = np.argsort(-weights, kind="stable")
    tiles = [Tile(int(b[0]), int(b[1]), int(b[2]), int(b[3]), float(wt))
             for b, wt in zip(boxes[order], weights[order])]
    has_content = bool(tiles)
    if ordinary and not cfg.ordinary_grid:
        tiles = []
    # The whole-image view and the context crops join only when some tile has content: a
    # blank image stays blank.
    if cfg.context_crops and has_content:
        crops = context_boxes(plan_w, plan_h, cfg.context_share)
        crop_weights = center_weights(crops, plan_w, plan_h, center_sigma)
        keep = content_share(background, crops, plan_w, plan_h) >= cfg.min_content_share
        tiles[:0] = [Tile(int(b[0]), int(b[1]), int(b[2]), int(b[3]), float(wt), is_context=True)
                     for b, wt in zip(crops[keep], crop_weights[keep])]
    if cfg.global_view and has_content:
        tiles.insert(0, Tile(0, 0, plan_w, plan_h, 1.0, is_global=True))
    return TilePlan(level, float(scale), float(downsample), plan_w, plan_h, tuple(tiles),
                    n_background, n_over_cap, n_thin)
