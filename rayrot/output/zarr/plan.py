"""The OME-Zarr plan: shapes, pyramid levels, chunking and the block rounds of one corrected image."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geometry import _check_angle, _output_size

__all__ = ["ZarrPlan", "plan_zarr"]

LOGGER = logging.getLogger(__name__)




@dataclass(frozen=True)
class ZarrPlan:
    """Shape and layout of one corrected OME-Zarr image; plain data, picklable.

    Make one with :func:`plan_zarr`.

    Attributes
    ----------
    source_width, source_height : int
        Level-0 size of the input, pixels.
    angle_deg : int
        Clockwise 90-degree part of the correction, one of 0/90/180/270.
    skew_deg : float
        Clockwise fine part of the correction, degrees; 0.0 = exact (lossless) path.
    width, height : int
        Level-0 size of the output, pixels.
    channels : int
        3 (RGB) or 4 (RGBA, when the fill is transparent and a skew exposes pixels).
    fill : str
        "white", "black" or "transparent": colour of pixels outside the source.
    chunk_px : int
        Chunk side, pixels, the same at every level.
    level_shapes : tuple of (height, width)
        Output size per pyramid level, finest first; each half the one before (rounded up).
    ngff_version : str
        "0.4" (zarr v2) or "0.5" (zarr v3).
    block_levels : int
        k: one write job makes a block of ``2**k`` x ``2**k`` chunks and the k levels below it
        from memory (see :meth:`tiers`).
    codec : str
        Lossless chunk compression: "lz4" (Blosc-LZ4) or "zstd".
    dtype : str
        "uint8", or "uint16" for 16-bit and float inputs (the input's depth is kept).
    mpp_x, mpp_y : float or None
        Micrometres per level-0 *output* pixel across and down (the input's, swapped by a
        90/270-degree turn); None when the input records no physical size.
    """

    source_width: int
    source_height: int
    angle_deg: int
    skew_deg: float
    width: int
    height: int
    channels: int
    fill: str
    chunk_px: int
    level_shapes: tuple[tuple[int, int], ...]
    ngff_version: str
    block_levels: int
    codec: str
    codec_level: int = 5
    dtype: str = "uint8"
    mpp_x: float | None = None
    mpp_y: float | None = None

    @property
    def exact(self) -> bool:
        """True for a pure 90-degree multiple: integer index maps, no resampling."""
        return self.skew_deg == 0

    @property
    def theta_deg(self) -> float:
        """Total clockwise rotation, degrees."""
        return self.angle_deg + self.skew_deg

    @property
    def zarr_format(self) -> int:
        return 2 if self.ngff_version == "0.4" else 3

    @property
    def n_levels(self) -> int:
        return len(self.level_shapes)

    @property
    def fill_value(self) -> int:
        """Zarr fill value: chunks wholly of the fill colour are not stored."""
        return (65535 if self.dtype == "uint16" else 255) if self.fill == "white" else 0

    def chunk_grid(self, level: int) -> tuple[int, int]:
        """``(rows, cols)`` of chunks at ``level``."""
        h, w = self.level_shapes[level]
        return -(-h // self.chunk_px), -(-w // self.chunk_px)

    def chunk_indices(self, level: int) -> list[tuple[int, int]]:
        """Every ``(row, col)`` chunk index at ``level``, row-major."""
        rows, cols = self.chunk_grid(level)
        return [(r, c) for r in range(rows) for c in range(cols)]

    def tiers(self) -> list[tuple[int, int]]:
        """``(first, last)`` level of each round of write jobs, finest first.

        The first round reads the source and writes levels ``0..k`` (``k = block_levels``);
        each later round reads the level above its first from the store and writes
        ``max(k, 1)`` levels. A round starts when the one before it is done.

        >>> from types import SimpleNamespace as NS
        >>> cfg = NS(zarr_chunk_px=256, zarr_max_levels=8, ngff_version="0.4", fill="white",
        ...          skew_crop=False, zarr_block_levels=2, zarr_codec="lz4",
        ...          zarr_codec_levels={"lz4": 5})
        >>> plan_zarr(5000, 5000, 0, 0.0, cfg).tiers()
        [(0, 2), (3, 4), (5, 5)]
        """
        n, k = self.n_levels, self.block_levels
        tiers = [(0, min(k, n - 1))]
        while tiers[-1][1] < n - 1:
            first = tiers[-1][1] + 1
            tiers.append((first, min(first + max(k, 1) - 1, n - 1)))
        return tiers

    def block_grid(self, first: int, last: int) -> tuple[int, int, int]:
        """``(rows, cols, side)`` of the blocks of a round writing levels ``first..last``;
        ``side`` in pixels of level ``first`` (a whole number of chunks at every level)."""
        side = self.chunk_px << (last - first)
        h, w = self.level_shapes[first]
        return -(-h // side), -(-w // side), side

    def chunk_rect(self, level: int, index: int | tuple[int, int]) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` of chunk ``index`` at ``level``, pixels of that level (edge chunks
        are clipped to the array). ``index`` is ``(row, col)`` or the row-major chunk number."""
        rows, cols = self.chunk_grid(level)
        r, c = divmod(index, cols) if isinstance(index, (int, np.integer)) else index
        if not (0 <= r < rows and 0 <= c < cols):
            raise IndexError(f"chunk {index} outside the {rows}x{cols} grid of level {level}")
        h, w = self.level_shapes[level]
        x, y = c * self.chunk_px, r * self.chunk_px
        return x, y, min(self.chunk_px, w - x), min(self.chunk_px, h - y)


def plan_zarr(slide_w: int, slide_h: int, angle_deg: int | None, skew_deg: float, out_cfg: Any,
              *, source_tile_px: int | None = None,
              mpp: tuple[float | None, float | None] = (None, None)) -> ZarrPlan:
    """Plan the corrected OME-Zarr of a ``slide_w`` x ``slide_h`` image; pure, reads nothing.

    Parameters
    ----------
    slide_w, slide_h : int
        Level-0 size of the input, pixels.
    angle_deg : int or None
        Clockwise 90-degree correction, 0/90/180/270 (None = undetermined, written as 0).
    skew_deg : float
        Clockwise fine correction, degrees; 0.0 keeps the lossless path.
    out_cfg : OutputConfig
        Uses ``zarr_chunk_px``, ``zarr_max_levels``, ``zarr_block_levels``, ``zarr_codec``,
        ``ngff_version``, ``fill``, ``skew_crop``.
    source_tile_px : int, optional
        Tile side of a tiled source. The chunk side is rounded to a multiple of it, so an
        unrotated (or 180-degree) level-0 chunk decodes whole source tiles only.
    mpp : (float or None, float or None), optional
        Micrometres per level-0 input pixel, ``(x, y)``; both or neither.

    Returns
    -------
    plan : ZarrPlan

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> cfg = NS(zarr_chunk_px=256, zarr_max_levels=8, ngff_version="0.4", fill="white",
    ...          skew_crop=False, zarr_block_levels=2, zarr_codec="lz4",
    ...          zarr_codec_levels={"lz4": 5})
    >>> p = plan_zarr(1000, 600, 90, 0.0, cfg)
    >>> p.level_shapes
    ((1000, 600), (500, 300), (250, 150))
    """
    angle = _check_angle(angle_deg)
    if slide_w < 1 or slide_h < 1:
        raise ValueError(f"plan_zarr: image size must be positive, got {slide_w}x{slide_h}")
    skew = float(skew_deg or 0.0)
    if not math.isfinite(skew) or abs(skew) > 90:
        raise ValueError(f"plan_zarr: skew_deg must be finite and within [-90, 90], "
                         f"got {skew_deg!r}")
    chunk = int(out_cfg.zarr_chunk_px)
    if source_tile_px and chunk % source_tile_px:
        aligned = max(source_tile_px, round(chunk / source_tile_px) * source_tile_px)
        LOGGER.info("zarr chunk %d px aligned to the source tile size %d px: %d px",
                    chunk, source_tile_px, aligned)
        chunk = aligned
    width, height = _output_size(slide_w, slide_h, angle, skew, bool(out_cfg.skew_crop))
    shapes = [(height, width)]
    while len(shapes) <= out_cfg.zarr_max_levels and max(shapes[-1]) > chunk:
        h, w = shapes[-1]
        shapes.append(((h + 1) // 2, (w + 1) // 2))
    channels = 4 if out_cfg.fill == "transparent" and skew != 0 else 3
    # A skewed block reads a turned footprint (up to 2x its area at 45 degrees) through
    # libvips' resampler: one level smaller blocks keep a skewed write's memory under the
    # exact write's (benchmarks/RESULTS.md), for about the same speed.
    block_levels = int(out_cfg.zarr_block_levels) - (skew != 0)
    if out_cfg.fill == "transparent" and skew == 0:
        LOGGER.info("fill 'transparent' not needed for an exact %d-degree turn: writing RGB", angle)
    mpp_x, mpp_y = (None, None) if None in mpp else (float(mpp[0]), float(mpp[1]))
    if angle in (90, 270):  # the output's x runs along the input's y
        mpp_x, mpp_y = mpp_y, mpp_x
    return ZarrPlan(slide_w, slide_h, angle, skew, width, height, channels, out_cfg.fill, chunk,
                    tuple(shapes), out_cfg.ngff_version, max(0, block_levels), out_cfg.zarr_codec,
                    codec_level=out_cfg.zarr_codec_levels[out_cfg.zarr_codec], mpp_x=mpp_x, mpp_y=mpp_y)
