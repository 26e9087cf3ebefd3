"""The whole image as one skew tile, on a margin of its border colour."""

from __future__ import annotations

import math

import numpy as np

from .border import _border_fill
from .constants import _EDGE_MARGIN
from .util import _block_mean, _check_gray

__all__ = ["global_skew_tile"]


def global_skew_tile(gray: np.ndarray, tile_px: int) -> np.ndarray:
    """The whole image as one skew tile: page edges, frames and long rules seen whole.

    The image (or a thumbnail of it) is shrunk by a whole factor until its long side is at most
    ``tile_px`` minus a margin, and set on a square of its border colour, so edges that run along
    the image's border fall inside the tile's measured disc. When the border is not one colour
    (content runs off the image) the margin is left out: it would draw a false edge at 0 degrees.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
        The whole image at any scale (a thumbnail is enough).
    tile_px : int
        Side of the returned tile.

    Returns
    -------
    tile : (h, w) uint8 ndarray
        ``tile_px`` square when the margin was added, else the shrunk image.
    """
    gray = _check_gray(gray, "gray")
    fill = _border_fill(gray)
    inner = int(round(tile_px * (1.0 - 2.0 * _EDGE_MARGIN))) if fill is not None else tile_px
    g = int(math.ceil(max(gray.shape) / inner))
    small = _block_mean(gray, g) if g > 1 else gray
    if fill is None:
        return small
    out = np.full((tile_px, tile_px), fill, np.uint8)
    y0 = (tile_px - small.shape[0]) // 2
    x0 = (tile_px - small.shape[1]) // 2
    out[y0: y0 + small.shape[0], x0: x0 + small.shape[1]] = small
    return out
