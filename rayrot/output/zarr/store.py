"""The OME-Zarr chunk store: codecs, block jobs that read the source once and write chunks and the levels below."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import WriteError
from ..files import _ensure_dir, _remote_fs, is_url
from ...io.rotate import operation_cache_off, rotate_region, rotation_matrix
from .plan import ZarrPlan

__all__ = ["BlockJob", "open_zarr_store", "run_block_job", "write_zarr_block"]





def _chunk_codec(plan: ZarrPlan):
    """The numcodecs codec that turns one chunk's bytes into what the store holds, for both zarr
    formats (a uint8 chunk's bytes are its C-order pixels; v3's "bytes" codec leaves them as
    they are)."""
    import numcodecs

    if plan.codec == "lz4":  # no shuffle: it does nothing to one-byte samples
        return numcodecs.Blosc(cname="lz4", clevel=plan.codec_level,
                               shuffle=numcodecs.Blosc.NOSHUFFLE)
    return numcodecs.Zstd(level=plan.codec_level)


def _compressor(plan: ZarrPlan):
    """The same compression as :func:`_chunk_codec`, declared in the array's metadata."""
    if plan.zarr_format == 2:
        return _chunk_codec(plan)
    from zarr.codecs import BloscCodec, ZstdCodec

    if plan.codec == "lz4":
        return BloscCodec(cname="lz4", clevel=plan.codec_level, shuffle="noshuffle")
    return ZstdCodec(level=plan.codec_level)


def _zarr_location(location: str | os.PathLike, *parts: str, read_only: bool = False):
    """What zarr opens for ``location/parts``: the local path, or for a URL zarr's
    ``FsspecStore`` (credentials and endpoint from the environment, as fsspec reads them)."""
    if is_url(location):
        from zarr.storage import FsspecStore

        url = "/".join([str(location).rstrip("/"), *parts])
        return FsspecStore.from_url(url, read_only=read_only)
    return str(Path(location, *parts))


def open_zarr_store(plan: ZarrPlan, path_tmp: str | os.PathLike) -> None:
    """Create the (empty) group and one array per level under ``path_tmp``.

    Arrays are named "0", "1", ... (finest first), ``plan.dtype``, shape ``(C, H, W)``, chunks
    ``(C, chunk_px, chunk_px)``, compressed as ``plan.codec`` says; NGFF 0.4 gets zarr v2 with
    "/"-nested chunk keys, 0.5 zarr v3 with ``dimension_names = ["c", "y", "x"]``. No
    multiscales metadata yet: :func:`finalize_zarr` writes it last. ``path_tmp`` may be an
    fsspec URL (``s3://bucket/prefix/name.zarr``).
    """
    import zarr

    if not is_url(path_tmp):
        _ensure_dir(Path(path_tmp).parent)
    try:
        group = zarr.open_group(_zarr_location(path_tmp), mode="w", zarr_format=plan.zarr_format)
        for level, (h, w) in enumerate(plan.level_shapes):
            kwargs: dict[str, Any] = dict(
                name=str(level), shape=(plan.channels, h, w), dtype=plan.dtype,
                chunks=(plan.channels, plan.chunk_px, plan.chunk_px),
                fill_value=plan.fill_value, compressors=_compressor(plan))
            if plan.zarr_format == 2:
                kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
            else:
                kwargs["dimension_names"] = ["c", "y", "x"]
            group.create_array(**kwargs)
    except OSError as exc:
        raise WriteError(f"cannot create zarr store {path_tmp}: {exc.strerror or exc}") from exc


def _open_source(path: str, source_cfg: Any):
    """A reader of ``path`` for one chunk (tests may replace this hook).

    libvips images get a fresh handle each time: a long-lived one keeps what it decoded along
    the whole width of the image, so a chunk worker's memory would grow with the image's
    width. OpenSlide's reader is shared (its tile cache is bounded, and opening costs more).
    """
    from ...io import Slide, open_slide

    slide = open_slide(path, source_cfg)
    return Slide.from_file(path, source_cfg) if slide.backend == "vips" else slide


def write_zarr_block(plan: ZarrPlan, path_tmp: str | os.PathLike, source_path: str,
                     source_cfg: Any, first: int, last: int,
                     index: int | tuple[int, int]) -> tuple[int, int, int]:
    """Compute one block and store its chunks at levels ``first..last``; one independent,
    picklable job.

    The block is ``side`` x ``side`` pixels of level ``first`` (see
    :meth:`ZarrPlan.block_grid`). Level 0 reads only the source rectangle the block maps back
    to (plus a 3-pixel margin for the bicubic kernel when skewed); a later round reads the
    block's ``2 side`` x ``2 side`` pixels of level ``first - 1`` from the store. Each level
    below is the 2x2 mean of the one above, made in memory.

    Parameters
    ----------
    plan : ZarrPlan
    path_tmp : str or PathLike
        The store made by :func:`open_zarr_store`.
    source_path : str
        The input image; opened with ``rayrot.io.open_slide(source_path, source_cfg)``.
    source_cfg : SourceConfig
    first, last : int
        Levels written, one round of :meth:`ZarrPlan.tiers`. Every chunk of level
        ``first - 1`` must be written first.
    index : int or (int, int)
        ``(row, col)`` in the round's block grid, or the row-major block number.

    Returns
    -------
    done : (first, x, y)
        The first level and the block's top-left corner in pixels of that level.
    """
    import zarr

    rows, cols, side = plan.block_grid(first, last)
    r, c = divmod(index, cols) if isinstance(index, (int, np.integer)) else index
    if not (0 <= r < rows and 0 <= c < cols):
        raise IndexError(f"block {index} outside the {rows}x{cols} grid of level {first}")
    h_lv, w_lv = plan.level_shapes[first]
    x, y = c * side, r * side
    w, h = min(side, w_lv - x), min(side, h_lv - y)
    alpha = plan.channels == 4
    if first == 0:
        with operation_cache_off():
            pixels = _level0_block(plan, source_path, source_cfg, (x, y, w, h))
    else:
        above = zarr.open_array(_zarr_location(path_tmp, str(first - 1), read_only=True),
                                mode="r")
        ha, wa = plan.level_shapes[first - 1]
        pixels = _downsample2(above[:, 2 * y:min(2 * (y + h), ha), 2 * x:min(2 * (x + w), wa)],
                              alpha)
    bx, by = x, y
    for level in range(first, last + 1):
        if level > first:
            # Blocks start on even pixels, so only a block at the image's edge has an odd side
            # (repeated, as for the whole level).
            pixels = None if pixels is None else _downsample2(pixels, alpha)
            bx, by = bx // 2, by // 2
        if pixels is not None:
            _store_chunks(plan, path_tmp, level, bx, by, pixels)
    return first, x, y


def _store_chunks(plan: ZarrPlan, path_tmp: str | os.PathLike, level: int, x: int, y: int,
                  pixels: np.ndarray) -> None:
    """Store ``(C, h, w)`` pixels whose top-left corner is chunk-aligned at ``(x, y)``, one
    chunk at a time. A chunk of nothing but fill is left out (it reads as fill).

    Each chunk is encoded with the array's own codec and written under the key its metadata
    gives, as zarr would store it (an edge chunk padded with fill to the full chunk shape).
    zarr-python has no public call to store a whole, encoded chunk (zarr-developers/zarr-python#4243),
    and its per-chunk ``__setitem__`` cost 129 ms against 80 ms stored this way for a 4096-px
    block's three levels with zstd-1 (benchmarks/write_profile.py, RESULTS.md). The store is a
    local directory that only this write sees until it is renamed, or an object-store prefix
    no reader takes for an image until its multiscales metadata is written last; either way
    no other writer races these keys. On object storage a block's chunks go up in one
    concurrent ``pipe`` (each chunk one PUT, straight from this task to the store).
    """
    import zarr

    metadata = zarr.open_array(_zarr_location(path_tmp, str(level), read_only=True),
                               mode="r").metadata
    remote = is_url(path_tmp)
    encoded: dict[str, bytes] = {}
    # Blosc runs on this task's one core: zarr's import has set numcodecs.blosc.use_threads
    # to False (its own thread-safety rule), and numcodecs then compresses in the caller.
    codec = _chunk_codec(plan)
    step = plan.chunk_px
    fill = plan.fill_value  # 255 or 0: a chunk is all fill when its lowest (highest) sample is
    furthest = np.min if fill == 255 else np.max  # (no comparison array the size of the chunk)
    _, h, w = pixels.shape
    for j in range(0, h, step):
        for i in range(0, w, step):
            chunk = pixels[:, j:j + step, i:i + step]
            if furthest(chunk) == fill:
                continue
            if chunk.shape[1:] != (step, step):
                padded = np.full((chunk.shape[0], step, step), fill, chunk.dtype)
                padded[:, :chunk.shape[1], :chunk.shape[2]] = chunk
                chunk = padded
            key = metadata.encode_chunk_key((0, (y + j) // step, (x + i) // step))
            data = codec.encode(np.ascontiguousarray(chunk))
            if remote:
                encoded[key] = data
                continue
            target = Path(path_tmp, str(level), key)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    if encoded:
        fs, root = _remote_fs(f"{str(path_tmp).rstrip('/')}/{level}")
        fs.pipe({f"{root}/{key}": data for key, data in encoded.items()})


@dataclass(frozen=True)
class BlockJob:
    """One block of one round to write: plain data, picklable, not a tuple (so a map that
    unpacks tuples passes it whole). Run it with :func:`run_block_job`."""

    plan: ZarrPlan
    path_tmp: str  # the store being built
    source_path: str
    source_cfg: Any  # SourceConfig
    first: int  # levels first..last, one round of plan.tiers()
    last: int
    index: int  # row-major block number in that round's grid


def run_block_job(job: BlockJob) -> tuple[int, int, int]:
    """:func:`write_zarr_block` for one :class:`BlockJob`; a plain module-level function, so
    ``ray.remote(run_block_job)`` and process pools can ship it."""
    return write_zarr_block(job.plan, job.path_tmp, job.source_path, job.source_cfg, job.first,
                            job.last, job.index)


def _level0_block(plan: ZarrPlan, source_path: str, source_cfg: Any,
                  rect: tuple[int, int, int, int]) -> np.ndarray | None:
    """``(C, h, w)`` pixels (``plan.dtype``) of one level-0 block; None when it lies wholly in
    the fill."""
    x, y, w, h = rect
    if plan.exact:
        sx, sy, sw, sh = _exact_source_rect(plan, rect)
        slide = _open_source(source_path, source_cfg)
        turn = plan.angle_deg // 90
        # 8-bit: the pixels scoring reads; 16-bit: the input's own depth
        region = slide.read_level_region(0, sx, sy, sw, sh, turn=turn) if plan.dtype == "uint8" \
            else slide.read_output_region(sx, sy, sw, sh, turn=turn)
        return np.ascontiguousarray(region.transpose(2, 0, 1))
    box = _skew_source_box(plan, rect, margin=3)
    if box is None:
        return None
    # A lazy region: libvips decodes the source tiles as the rotation asks for them, so a
    # block never holds a decoded copy of its (larger, turned) source footprint.
    pixels = rotate_region(_open_source(source_path, source_cfg), box, plan.theta_deg,
                           (plan.width, plan.height), rect, plan.fill, plan.channels == 4,
                           full_depth=plan.dtype != "uint8")
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _exact_source_rect(plan: ZarrPlan,
                       rect: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Source ``(x, y, w, h)`` that ``np.rot90(region, -k)`` turns into output ``rect``.

    ``k = angle_deg // 90``; output pixel ``(i, j)`` comes from source ``(H-1-j, i)`` for
    k = 1, ``(H-1-i, W-1-j)`` for k = 2 and ``(j, W-1-i)`` for k = 3.
    """
    x, y, w, h = rect
    W, H = plan.source_width, plan.source_height
    return {0: (x, y, w, h),
            90: (y, H - x - w, h, w),
            180: (W - x - w, H - y - h, w, h),
            270: (W - y - h, x, h, w)}[plan.angle_deg]


def _skew_source_box(plan: ZarrPlan, rect: tuple[int, int, int, int],
                     margin: int) -> tuple[int, int, int, int] | None:
    """Source ``(x, y, w, h)`` holding every pixel that output ``rect`` samples, clipped to
    the image; None when the rectangle maps wholly outside the source."""
    x, y, w, h = rect
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], float)
    c_out = np.array([plan.width, plan.height], float) / 2
    c_src = np.array([plan.source_width, plan.source_height], float) / 2
    src = (corners - c_out) @ rotation_matrix(plan.theta_deg) + c_src  # rows: R^T (p - c_out)
    x0 = max(0, math.floor(src[:, 0].min()) - margin)
    y0 = max(0, math.floor(src[:, 1].min()) - margin)
    x1 = min(plan.source_width, math.ceil(src[:, 0].max()) + margin)
    y1 = min(plan.source_height, math.ceil(src[:, 1].max()) + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _downsample2(block: np.ndarray, alpha: bool) -> np.ndarray:
    """Mean of each 2x2 pixel block: ``(C, h, w)`` uint8 or uint16 -> ``(C, ceil(h/2),
    ceil(w/2))`` of the same dtype.

    An odd last row or column is repeated; means are rounded half up. With ``alpha`` (C = 4,
    last band alpha) the colour is averaged weighted by alpha, so transparent pixels do not
    darken the edges.
    """
    c, h, w = block.shape
    if h % 2 or w % 2:
        block = np.pad(block, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    wide = block.dtype == np.uint16
    if not alpha:
        total = _sum2x2(block, np.uint32 if wide else np.uint16)
        total += 2
        total >>= 2
        return total.astype(block.dtype)
    a = block[-1:]
    acc = np.uint64 if wide else np.uint32
    a_sum = _sum2x2(a, acc)
    rgb_sum = _sum2x2(block[:-1].astype(acc) * a, acc)
    out = np.empty((c,) + a_sum.shape[1:], block.dtype)
    out[:-1] = np.where(a_sum > 0, (rgb_sum + a_sum // 2) // np.maximum(a_sum, 1), 0)
    out[-1] = (a_sum[0] + 2) // 4
    return out


def _sum2x2(x: np.ndarray, dtype) -> np.ndarray:
    """Sum of each 2x2 block of ``(C, h, w)`` (h, w even) in ``dtype``: rows first, while the
    memory is contiguous, then column pairs."""
    rows = np.add(x[:, 0::2], x[:, 1::2], dtype=dtype)
    return rows[..., 0::2] + rows[..., 1::2]
