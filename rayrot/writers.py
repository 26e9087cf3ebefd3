"""Everything rayrot writes: Parquet tables, OME-Zarr pyramids, corrected ordinary images.

This is the only module that imports pyarrow or zarr, and the only one that creates output
files. Every output is first written under a hidden temporary name in its own folder
(``.<name>.tmp-<random>``) and renamed into place when complete, so a crash or an error
never leaves a half-written file or store behind; a failing write raises
:class:`~rayrot.errors.WriteError` naming the path.

The outputs::

    images.parquet   one row per input       IMAGES_SCHEMA   write_images_parquet(results, path)
    tiles.parquet    one row per tile       TILES_SCHEMA    write_tiles_parquet(tables, path)
    <name>.zarr      corrected image, OME-NGFF multiscales   plan_zarr -> write_ome_zarr
    <name>.corrected.<ext>, <name>.angle.txt, <name>.meta.json        write_corrected_image

Geometry. ``angle_deg`` (0/90/180/270) and ``skew_deg`` are *clockwise* rotations that make
the input upright and straight (see :mod:`rayrot.preprocess`); the output is the input
rotated clockwise by ``angle_deg + skew_deg`` about its centre. Continuous pixel coordinates
put pixel ``(i, j)``'s centre at ``(j + 0.5, i + 0.5)``; an output point ``p`` comes from the
source point ``c_src + R(theta)^T (p - c_out)`` with ``R(theta) = [[cos, -sin], [sin, cos]]``
(clockwise on screen, y pointing down). A pure multiple of 90 degrees is done with exact
integer index maps (libvips' ``rot``), so it is lossless; a fine skew is resampled
with libvips' bicubic interpolator (pyvips is imported lazily, for the rotations only) and
grows the canvas to hold the whole rotated image (``output.skew_crop`` keeps the input's size).

The OME-Zarr writer never holds the whole image: it works in blocks of 2**k x 2**k chunks
(``output.zarr_block_levels``). A level-0 block reads only the source rectangle it needs
(``Slide.read_region``, or a lazy ``Slide.region_image`` under the bicubic rotation) and
makes the k levels below it in memory; a later round reads blocks of the last level written
from the store (:meth:`ZarrPlan.tiers`). Blocks are independent jobs (``BlockJob``, plain
picklable data, run by the module-level ``run_block_job``) handed to a ``map_fn``; the
pipeline passes a Ray map, tests the builtin :func:`map`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import WriteError

__all__ = [
    "IMAGES_SCHEMA",
    "TILES_SCHEMA",
    "TILE_KINDS",
    "check_output_dir",
    "images_table",
    "tiles_table",
    "write_images_parquet",
    "write_tiles_parquet",
    "ZarrPlan",
    "plan_zarr",
    "open_zarr_store",
    "write_zarr_block",
    "BlockJob",
    "run_block_job",
    "finalize_zarr",
    "write_ome_zarr",
    "corrected_suffix",
    "write_corrected_image",
]

LOGGER = logging.getLogger(__name__)

ANGLES = (0, 90, 180, 270)

# ----------------------------------------------------------------------------- Parquet schemas


def _field(name: str, type_: pa.DataType, description: str, unit: str | None = None,
           nullable: bool = False) -> pa.Field:
    meta = {"description": description}
    if unit:
        meta["unit"] = unit
    return pa.field(name, type_, nullable=nullable, metadata=meta)


_STAGES = ("open", "plan", "score", "vote", "skew", "write")

IMAGES_SCHEMA = pa.schema([
    _field("path", pa.string(), "input file"),
    _field("width", pa.int64(), "level-0 width after EXIF orientation", "px"),
    _field("height", pa.int64(), "level-0 height after EXIF orientation", "px"),
    _field("level", pa.int32(), "pyramid level the tiles were read from (0 = full resolution)"),
    _field("scale", pa.float64(), "level-0 pixels per pixel of the scale tiles were scored at",
           "px/px"),
    _field("angle", pa.int16(), "clockwise rotation making the input upright, 0/90/180/270; "
           "null when undetermined or failed", "deg", nullable=True),
    _field("confidence", pa.float64(), "winner's share of the vote mass, 0..1"),
    _field("skew_deg", pa.float64(), "clockwise fine rotation straightening the content "
           "after angle", "deg"),
    _field("skew_confidence", pa.float64(), "confidence of skew_deg, 0..1"),
    *[_field(f"prob_{a}", pa.float64(), f"vote mass of class {a} deg, normalised to sum to 1")
      for a in ANGLES],
    _field("tiles_scored", pa.int32(), "tiles the model scored"),
    _field("tiles_skipped", pa.int32(), "tiles dropped (background, over the cap, early stop)"),
    _field("tiles_abstained", pa.int32(), "scored tiles below the confidence floor"),
    *[_field(f"seconds_{s}", pa.float64(), f"wall-clock time of stage {s!r}; null if not run",
             "s", nullable=True) for s in _STAGES],
    _field("model_name", pa.string(), "registered model name"),
    _field("model_version", pa.string(), "model version (weights hash or tag)"),
    _field("error", pa.string(), "why this input failed; null when it did not", nullable=True),
], metadata={"rayrot": "images", "description": "one row per input image"})

TILES_SCHEMA = pa.schema([
    _field("path", pa.string(), "input file the tile was read from"),
    _field("kind", pa.string(), "'orientation': a tile the model scored for the 4-way vote; "
           "'skew': a tile the fine-skew estimator measured (its own scale and grid)"),
    _field("level", pa.int32(), "pyramid level the tile was read from"),
    _field("x", pa.int64(), "left edge, in pixels of that level", "px"),
    _field("y", pa.int64(), "top edge, in pixels of that level", "px"),
    _field("w", pa.int64(), "width, in pixels of that level", "px"),
    _field("h", pa.int64(), "height, in pixels of that level", "px"),
    _field("x0", pa.int64(), "left edge, level-0 pixels", "px"),
    _field("y0", pa.int64(), "top edge, level-0 pixels", "px"),
    _field("w0", pa.int64(), "width, level-0 pixels", "px"),
    _field("h0", pa.int64(), "height, level-0 pixels", "px"),
    _field("is_global", pa.bool_(),
           "true for the whole-image view (the image shrunk into one tile)"),
    _field("center_weight", pa.float32(), "vote weight from the distance to the image centre, "
           "0..1; null in skew rows", nullable=True),
    *[_field(f"p_{a}", pa.float32(), f"model probability of class {a} deg; null in skew rows",
             nullable=True) for a in ANGLES],
    _field("predicted", pa.int16(), "the tile's top class, clockwise degrees 0/90/180/270; "
           "null in skew rows", "deg", nullable=True),
    _field("confidence", pa.float32(), "the tile's top probability, 0..1; null in skew rows",
           nullable=True),
    _field("abstained", pa.bool_(), "true when confidence is below the floor (no vote); null "
           "in skew rows", nullable=True),
    _field("skew_deg", pa.float32(), "the tile's own skew estimate near the image's skew "
           "direction (0 where it has no line structure); null where not measured", "deg",
           nullable=True),
    _field("skew_confidence", pa.float32(), "confidence of the tile's skew, 0..1; null where "
           "not measured", nullable=True),
], metadata={"rayrot": "tiles", "description": "one row per scored or measured tile"})


# ----------------------------------------------------------------------------- files and folders


def check_output_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` if needed and check that files can be created in it.

    Call it before the expensive work starts.

    Returns
    -------
    out_dir : Path

    Raises
    ------
    WriteError
        The folder cannot be created or written to; the message names it.
    """
    out = Path(out_dir)
    _ensure_dir(out)
    probe = out / f".rayrot-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WriteError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc
    return out


def _ensure_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise WriteError(f"output folder {folder} is not a directory")


def _tmp_sibling(path: Path) -> Path:
    """A hidden temporary name next to ``path``: ``<dir>/.<name>.tmp-<8 hex>``."""
    return path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        LOGGER.warning("could not remove temporary %s", path)


def _replace(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; a folder already at ``path`` is moved aside first."""
    if path.is_dir() and not path.is_symlink():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)


@contextmanager
def _atomic(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` on success, delete it on error.

    OSError (and libvips' or Arrow's IO errors) become :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    _ensure_dir(path.parent)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        _replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, (OSError, pa.ArrowException)) and not isinstance(exc, WriteError):
            reason = getattr(exc, "strerror", None) or exc
            raise WriteError(f"cannot write {path}: {reason}") from exc
        raise


# ----------------------------------------------------------------------------- Parquet


def images_table(results: Sequence[Any]) -> pa.Table:
    """One row per :class:`~rayrot.result.DetectionResult`, in :data:`IMAGES_SCHEMA`.

    Parameters
    ----------
    results : sequence of DetectionResult
        Failed results (``error`` set) give a row with the error and empty fields.

    Returns
    -------
    table : pyarrow.Table
    """
    rows = [_image_row(r) for r in results]
    return pa.Table.from_pylist(rows, schema=IMAGES_SCHEMA)


def _image_row(r: Any) -> dict[str, Any]:
    probs = tuple(r.probabilities) if r.probabilities is not None else (0.0,) * 4
    if len(probs) != 4:
        raise ValueError(f"{r.path}: probabilities must have 4 entries, got {len(probs)}")
    row = {
        "path": str(r.path), "width": int(r.width), "height": int(r.height),
        "level": int(r.level), "scale": float(r.scale),
        "angle": None if r.angle is None else int(r.angle),
        "confidence": float(r.confidence), "skew_deg": float(r.skew_deg),
        "skew_confidence": float(r.skew_confidence),
        "tiles_scored": int(r.tiles_scored), "tiles_skipped": int(r.tiles_skipped),
        "tiles_abstained": int(r.tiles_abstained),
        "model_name": str(r.model_name or ""), "model_version": str(r.model_version or ""),
        "error": r.error,
    }
    row.update({f"prob_{a}": float(p) for a, p in zip(ANGLES, probs)})
    seconds = r.seconds or {}
    unknown = set(seconds) - set(_STAGES)
    if unknown:
        LOGGER.info("%s: seconds for unknown stage(s) %s not written", r.path, sorted(unknown))
    row.update({f"seconds_{s}": (float(seconds[s]) if s in seconds else None) for s in _STAGES})
    return row


TILE_KINDS = ("orientation", "skew")
# Columns a row of each kind must have; every other column may be left out (null).
_TILE_REQUIRED = {
    "orientation": ("path", "level", "x", "y", "w", "h", "x0", "y0", "w0", "h0", "is_global",
                    "center_weight", *(f"p_{a}" for a in ANGLES), "predicted", "confidence",
                    "abstained"),
    "skew": ("path", "level", "x", "y", "w", "h", "x0", "y0", "w0", "h0", "is_global",
             "skew_deg", "skew_confidence"),
}


def tiles_table(records: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                kind: str = "orientation") -> pa.Table:
    """Per-tile columns (or row dicts) of one kind to a table in :data:`TILES_SCHEMA`.

    Parameters
    ----------
    records : dict of str to array, or list of dict
        Columns named as in :data:`TILES_SCHEMA`, each a length-N sequence (NumPy arrays
        preferred). A scalar (e.g. ``path`` or ``level``) is repeated N times. ``probs``, an
        ``(N, 4)`` array in class order 0/90/180/270, may stand in for ``p_0 .. p_270``.
        Columns that a row of ``kind`` does not need may be left out and are null; NaN in a
        nullable float column also becomes null. ``predicted`` is in degrees (0/90/180/270),
        not a class index. A list of row dicts is accepted as well. Zero-length columns (or
        none) give an empty table.
    kind : {"orientation", "skew"}
        Scored tiles of the 4-way vote (which need the probability columns) or tiles measured
        by the fine-skew estimator (which need ``skew_deg`` and ``skew_confidence``).

    Returns
    -------
    table : pyarrow.Table, N rows

    Raises
    ------
    ValueError
        Unknown kind, unknown or missing columns, columns of different lengths, or
        ``predicted`` values that are not angles; the message names them.
    """
    if kind not in TILE_KINDS:
        raise ValueError(f"tiles_table: kind must be one of {TILE_KINDS}, got {kind!r}")
    if not isinstance(records, Mapping):
        rows = list(records)
        if not rows:
            return TILES_SCHEMA.empty_table()
        keys = dict.fromkeys(k for row in rows for k in row)
        records = {k: [row.get(k) for row in rows] for k in keys}
    cols = dict(records)
    if "probs" in cols:
        probs = np.asarray(cols.pop("probs"), np.float32).reshape(-1, 4)
        for i, a in enumerate(ANGLES):
            cols.setdefault(f"p_{a}", probs[:, i])
    if "kind" in cols:  # rows read back from a table: they must all be of this kind
        given = {cols.pop("kind")} if _is_scalar(cols["kind"]) else set(cols.pop("kind"))
        if given - {kind}:
            raise ValueError(f"tiles_table: rows of kind {sorted(given)} in a {kind!r} table")
    names = TILES_SCHEMA.names
    unknown = sorted(set(cols) - set(names))
    if unknown:
        raise ValueError(f"tiles_table: unknown column(s) {unknown}; expected {names}")
    n = _common_length(cols)
    if n == 0:  # no tile scored: an empty table, whatever columns came along
        return TILES_SCHEMA.empty_table()
    missing = [c for c in _TILE_REQUIRED[kind] if c not in cols]
    if missing:
        raise ValueError(f"tiles_table: missing column(s) {missing} for {kind} tiles")
    cols["kind"] = kind
    arrays = [_tile_column(TILES_SCHEMA.field(name), cols.get(name), n) for name in names]
    table = pa.Table.from_arrays(arrays, schema=TILES_SCHEMA)
    bad = set(np.unique(table.column("predicted").drop_null().to_numpy())) - set(ANGLES)
    if bad:
        raise ValueError(f"tiles_table: 'predicted' must be clockwise degrees {ANGLES}, "
                         f"got {sorted(int(b) for b in bad)}")
    return table


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bytes, os.PathLike)) or np.ndim(value) == 0


def _common_length(cols: Mapping[str, Any]) -> int:
    lengths = {k: len(v) for k, v in cols.items() if not _is_scalar(v)}
    if not lengths:
        return 1 if any(v is not None for v in cols.values()) else 0
    if len(set(lengths.values())) > 1:
        raise ValueError(f"tiles_table: columns have different lengths {lengths}")
    return next(iter(lengths.values()))


def _tile_column(field: pa.Field, value: Any, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, field.type)
    if _is_scalar(value):
        value = [str(value) if isinstance(value, os.PathLike) else value] * n
    if pa.types.is_string(field.type):
        return pa.array([str(v) for v in value], field.type)
    if pa.types.is_floating(field.type) and field.nullable:
        arr = np.asarray([np.nan if v is None else v for v in value], np.float64)
        return pa.array(arr, field.type, mask=np.isnan(arr))
    if field.nullable and any(v is None for v in value):
        return pa.array(list(value), field.type)
    return pa.array(np.asarray(value), field.type)


def write_images_parquet(results: Sequence[Any], path: str | os.PathLike) -> Path:
    """Write ``images.parquet``: one row per input (:data:`IMAGES_SCHEMA`), atomically.

    Parameters
    ----------
    results : sequence of DetectionResult
    path : str or PathLike
        Destination file; its folder is created if needed.

    Returns
    -------
    path : Path
    """
    return _write_parquet(images_table(results), Path(path))


def write_tiles_parquet(tables: Iterable[pa.Table], path: str | os.PathLike) -> Path:
    """Write ``tiles.parquet``: the per-image tile tables (:data:`TILES_SCHEMA`) concatenated.

    Parameters
    ----------
    tables : iterable of pyarrow.Table
        Each as returned by :func:`tiles_table` (``None`` entries, from failed inputs, are
        skipped). An empty iterable writes an empty table with the schema.
    path : str or PathLike

    Returns
    -------
    path : Path
    """
    parts = [t.select(TILES_SCHEMA.names).cast(TILES_SCHEMA) for t in tables if t is not None]
    table = pa.concat_tables(parts) if parts else TILES_SCHEMA.empty_table()
    return _write_parquet(table, Path(path))


def _write_parquet(table: pa.Table, path: Path) -> Path:
    with _atomic(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    LOGGER.info("wrote %s (%d rows)", path, table.num_rows)
    return path


# ----------------------------------------------------------------------------- rotation geometry


def _check_angle(angle_deg: int | None) -> int:
    angle = 0 if angle_deg is None else angle_deg
    if angle not in ANGLES:
        raise ValueError(f"angle_deg must be one of {ANGLES} (or None), got {angle_deg!r}")
    return int(angle)


def _output_size(width: int, height: int, angle_deg: int, skew_deg: float,
                 crop: bool) -> tuple[int, int]:
    """``(width, height)`` of the corrected image, in output pixels.

    A pure 90-degree multiple swaps or keeps the sides; a fine skew grows the canvas to the
    bounding box of the rotated image, or keeps the 90-degree size when ``crop``.

    >>> _output_size(100, 50, 90, 0.0, False)
    (50, 100)
    >>> _output_size(100, 100, 0, 45.0, False)
    (142, 142)
    """
    w90, h90 = (height, width) if angle_deg in (90, 270) else (width, height)
    if skew_deg == 0 or crop:
        return w90, h90
    t = math.radians(skew_deg)
    c, s = abs(math.cos(t)), abs(math.sin(t))
    eps = 1e-6  # keep float noise from adding a pixel
    return (max(1, math.ceil(w90 * c + h90 * s - eps)), max(1, math.ceil(w90 * s + h90 * c - eps)))


def _rotation(theta_deg: float) -> np.ndarray:
    """``R``, (2, 2) float64: turns vectors clockwise on screen (y down) by ``theta_deg``."""
    t = math.radians(theta_deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s], [s, c]])


def _vips_affine_args(theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
                      region_origin: tuple[float, float],
                      out_origin: tuple[float, float]) -> tuple[list[float], float, float]:
    """Matrix and offsets for ``pyvips.Image.affine`` that rotate a source region into a window.

    Parameters
    ----------
    theta_deg : float
        Total clockwise rotation, degrees.
    src_size, out_size : (int, int)
        ``(width, height)`` of the whole source and of the whole output, pixels.
    region_origin : (float, float)
        Top-left of the region handed to libvips, in source pixels.
    out_origin : (float, float)
        Top-left of the output window (``oarea`` starts at 0, 0), in output pixels.

    Returns
    -------
    matrix : list of 4 floats
    odx, ody : float

    Notes
    -----
    libvips puts pixel centres at integer coordinates; the ``R @ (0.5, 0.5) - 0.5`` term
    converts from the continuous convention in the module docstring.
    """
    R = _rotation(theta_deg)
    c_src = np.asarray(src_size, float) / 2
    c_out = np.asarray(out_size, float) / 2
    t = R @ (np.asarray(region_origin, float) - c_src) + c_out - np.asarray(out_origin, float)
    off = R @ np.array([0.5, 0.5]) + t - 0.5
    return [R[0, 0], R[0, 1], R[1, 0], R[1, 1]], float(off[0]), float(off[1])


def _fill_rgba(fill: str) -> tuple[int, int, int, int]:
    return {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255),
            "transparent": (0, 0, 0, 0)}[fill]


def _vips():
    import pyvips  # local: only the rotation helpers need libvips

    return pyvips


def _vips_from_array(pixels: np.ndarray):
    """``(H, W, C)`` uint8, C in 3/4, to a pyvips sRGB image (alpha recognised for C = 4)."""
    image = _vips().Image.new_from_array(np.ascontiguousarray(pixels))
    return image.copy(interpretation="srgb")


def _vips_rotate(image, theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
                 region_origin: tuple[float, float], out_rect: tuple[int, int, int, int],
                 fill: str):
    """Bicubic rotation of ``image`` (a region of the source) into one output window.

    Parameters
    ----------
    image : pyvips.Image
        3- or 4-band uchar sRGB; with 4 bands the alpha is resampled premultiplied, so edges
        get no dark fringe.
    out_rect : (x, y, w, h)
        The window of the whole output to produce, output pixels.
    fill : {"white", "black", "transparent"}
        Colour of output pixels that fall outside the source.

    Returns
    -------
    rotated : pyvips.Image, ``w`` x ``h``, same bands as ``image``
    """
    pyvips = _vips()
    x, y, w, h = out_rect
    matrix, odx, ody = _vips_affine_args(theta_deg, src_size, out_size, region_origin, (x, y))
    background = list(_fill_rgba(fill)[:image.bands])
    return image.affine(matrix, interpolate=pyvips.Interpolate.new("bicubic"), oarea=[0, 0, w, h],
                        odx=odx, ody=ody, background=background, extend="background")


# ----------------------------------------------------------------------------- OME-Zarr plan


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
        return 255 if self.fill == "white" else 0

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
        ...          skew_crop=False, zarr_block_levels=2, zarr_codec="lz4")
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
              *, source_tile_px: int | None = None) -> ZarrPlan:
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

    Returns
    -------
    plan : ZarrPlan

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> cfg = NS(zarr_chunk_px=256, zarr_max_levels=8, ngff_version="0.4", fill="white",
    ...          skew_crop=False, zarr_block_levels=2, zarr_codec="lz4")
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
    # exact write's (benchmarks/RESULTS.md, issue 4), for about the same speed.
    block_levels = int(out_cfg.zarr_block_levels) - (skew != 0)
    if out_cfg.fill == "transparent" and skew == 0:
        LOGGER.info("fill 'transparent' not needed for an exact %d-degree turn: writing RGB", angle)
    return ZarrPlan(slide_w, slide_h, angle, skew, width, height, channels, out_cfg.fill, chunk,
                    tuple(shapes), out_cfg.ngff_version, max(0, block_levels), out_cfg.zarr_codec)


# ----------------------------------------------------------------------------- OME-Zarr store


# zstd level of every chunk. Measured on dev images: level 1 encodes photos and maps 2-3x
# faster than level 3 for 2-3 % more bytes; text pages compress 8x instead of 19x.
_ZSTD_LEVEL = 1
# Blosc-LZ4 as zarr v2 made it its default: level 5, and no shuffle, which does nothing to
# one-byte samples.
_BLOSC_LZ4 = dict(cname="lz4", clevel=5)


def _chunk_codec(plan: ZarrPlan):
    """The numcodecs codec that turns one chunk's bytes into what the store holds, for both zarr
    formats (a uint8 chunk's bytes are its C-order pixels; v3's "bytes" codec leaves them as
    they are)."""
    import numcodecs

    if plan.codec == "lz4":
        return numcodecs.Blosc(shuffle=numcodecs.Blosc.NOSHUFFLE, **_BLOSC_LZ4)
    return numcodecs.Zstd(level=_ZSTD_LEVEL)


def _compressor(plan: ZarrPlan):
    """The same compression as :func:`_chunk_codec`, declared in the array's metadata."""
    if plan.zarr_format == 2:
        return _chunk_codec(plan)
    from zarr.codecs import BloscCodec, ZstdCodec

    if plan.codec == "lz4":
        return BloscCodec(shuffle="noshuffle", **_BLOSC_LZ4)
    return ZstdCodec(level=_ZSTD_LEVEL)


def open_zarr_store(plan: ZarrPlan, path_tmp: str | os.PathLike) -> None:
    """Create the (empty) group and one array per level under ``path_tmp``.

    Arrays are named "0", "1", ... (finest first), uint8, shape ``(C, H, W)``, chunks
    ``(C, chunk_px, chunk_px)``, compressed as ``plan.codec`` says; NGFF 0.4 gets zarr v2 with
    "/"-nested chunk keys, 0.5 zarr v3 with ``dimension_names = ["c", "y", "x"]``. No
    multiscales metadata yet: :func:`finalize_zarr` writes it last.
    """
    import zarr

    path_tmp = Path(path_tmp)
    _ensure_dir(path_tmp.parent)
    try:
        group = zarr.open_group(str(path_tmp), mode="w", zarr_format=plan.zarr_format)
        for level, (h, w) in enumerate(plan.level_shapes):
            kwargs: dict[str, Any] = dict(
                name=str(level), shape=(plan.channels, h, w), dtype="uint8",
                chunks=(plan.channels, plan.chunk_px, plan.chunk_px),
                fill_value=plan.fill_value, compressors=_compressor(plan))
            if plan.zarr_format == 2:
                kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
            else:
                kwargs["dimension_names"] = ["c", "y", "x"]
            group.create_array(**kwargs)
    except OSError as exc:
        raise WriteError(f"cannot create zarr store {path_tmp}: {exc.strerror or exc}") from exc


@contextmanager
def _vips_operation_cache_off():
    """No libvips operation cache while a chunk is made: no chunk repeats another's operations,
    and the cache would keep up to 100 MB of their results in every worker."""
    import pyvips

    n = pyvips.cache_get_max()
    pyvips.cache_set_max(0)
    try:
        yield
    finally:
        pyvips.cache_set_max(n)


def _open_source(path: str, source_cfg: Any):
    """A reader of ``path`` for one chunk (tests may replace this hook).

    libvips images get a fresh handle each time: a long-lived one keeps what it decoded along
    the whole width of the image, so a chunk worker's memory would grow with the image's
    width. OpenSlide's reader is shared (its tile cache is bounded, and opening costs more).
    """
    from .source import Slide, open_slide

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
        The input image; opened with ``rayrot.source.open_slide(source_path, source_cfg)``.
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
        with _vips_operation_cache_off():
            pixels = _level0_block(plan, source_path, source_cfg, (x, y, w, h))
    else:
        above = zarr.open_array(str(Path(path_tmp) / str(first - 1)), mode="r")
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
    zarr-python has no public call to store a whole, encoded chunk (zarr-python issue 4243),
    and its per-chunk ``__setitem__`` cost 129 ms against 80 ms stored this way for a 4096-px
    block's three levels with zstd-1 (benchmarks/write_profile.py, RESULTS.md). The store is a
    local directory that only this write sees until it is renamed, so no other writer can
    race these files.
    """
    import zarr

    root = Path(path_tmp) / str(level)
    metadata = zarr.open_array(str(root), mode="r").metadata
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
                padded = np.full((chunk.shape[0], step, step), fill, np.uint8)
                padded[:, :chunk.shape[1], :chunk.shape[2]] = chunk
                chunk = padded
            target = root / metadata.encode_chunk_key((0, (y + j) // step, (x + i) // step))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(codec.encode(np.ascontiguousarray(chunk)))


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
    """``(C, h, w)`` uint8 pixels of one level-0 block; None when it lies wholly in the fill."""
    x, y, w, h = rect
    if plan.exact:
        sx, sy, sw, sh = _exact_source_rect(plan, rect)
        region = _open_source(source_path, source_cfg).read_region(0, sx, sy, sw, sh,
                                                                  turn=plan.angle_deg // 90)
        return np.ascontiguousarray(region.transpose(2, 0, 1))
    box = _skew_source_box(plan, rect, margin=3)
    if box is None:
        return None
    sx, sy, sw, sh = box
    # A lazy region: libvips decodes the source tiles as the rotation asks for them, so a
    # block never holds a decoded copy of its (larger, turned) source footprint.
    slide = _open_source(source_path, source_cfg)
    region = slide.region_image(0, sx, sy, sw, sh)
    if plan.channels == 4:
        region = region.bandjoin(255)
    image = _vips_rotate(region, plan.theta_deg,
                         (plan.source_width, plan.source_height), (plan.width, plan.height),
                         (sx, sy), rect, plan.fill)
    try:  # the lazy region decodes here
        pixels = image.numpy()
    except _vips().Error as exc:
        raise slide.region_error(0, sx, sy, sw, sh, exc) from exc
    return np.ascontiguousarray(pixels.reshape(h, w, plan.channels).transpose(2, 0, 1))


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
    src = (corners - c_out) @ _rotation(plan.theta_deg) + c_src  # rows: R^T (p - c_out)
    x0 = max(0, math.floor(src[:, 0].min()) - margin)
    y0 = max(0, math.floor(src[:, 1].min()) - margin)
    x1 = min(plan.source_width, math.ceil(src[:, 0].max()) + margin)
    y1 = min(plan.source_height, math.ceil(src[:, 1].max()) + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _downsample2(block: np.ndarray, alpha: bool) -> np.ndarray:
    """Mean of each 2x2 pixel block: ``(C, h, w)`` uint8 -> ``(C, ceil(h/2), ceil(w/2))`` uint8.

    An odd last row or column is repeated; means are rounded half up. With ``alpha`` (C = 4,
    last band alpha) the colour is averaged weighted by alpha, so transparent pixels do not
    darken the edges.
    """
    c, h, w = block.shape
    if h % 2 or w % 2:
        block = np.pad(block, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    if not alpha:
        total = _sum2x2(block, np.uint16)
        total += 2
        total >>= 2
        return total.astype(np.uint8)
    a = block[-1:]
    a_sum = _sum2x2(a, np.uint32)
    rgb_sum = _sum2x2(block[:-1].astype(np.uint32) * a, np.uint32)
    out = np.empty((c,) + a_sum.shape[1:], np.uint8)
    out[:-1] = np.where(a_sum > 0, (rgb_sum + a_sum // 2) // np.maximum(a_sum, 1), 0)
    out[-1] = (a_sum[0] + 2) // 4
    return out


def _sum2x2(x: np.ndarray, dtype) -> np.ndarray:
    """Sum of each 2x2 block of ``(C, h, w)`` (h, w even) in ``dtype``: rows first, while the
    memory is contiguous, then column pairs."""
    rows = np.add(x[:, 0::2], x[:, 1::2], dtype=dtype)
    return rows[..., 0::2] + rows[..., 1::2]


def _ngff_attrs(plan: ZarrPlan, name: str, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Group attributes: multiscales + omero (+ rayrot's own ``metadata``)."""
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}]
    datasets = [{"path": str(i),
                 "coordinateTransformations": [{"type": "scale",
                                                "scale": [1.0, float(2 ** i), float(2 ** i)]}]}
                for i in range(plan.n_levels)]
    multiscale: dict[str, Any] = {
        "name": name, "axes": axes, "datasets": datasets, "type": "mean",
        "metadata": {"description": "2x2 mean of the level above; level 0 rotated by rayrot",
                     "method": "rayrot.writers"},
    }
    channels = [_omero_channel(label, color) for label, color in
                (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF"))]
    if plan.channels == 4:
        channels.append(_omero_channel("alpha", "FFFFFF", active=False))
    omero = {"name": name, "channels": channels,
             "rdefs": {"model": "color", "defaultT": 0, "defaultZ": 0}}
    rayrot = {"angle_deg": plan.angle_deg, "skew_deg": plan.skew_deg,
              "source_size": [plan.source_width, plan.source_height], "fill": plan.fill,
              **dict(metadata or {})}
    if plan.ngff_version == "0.4":
        multiscale["version"] = "0.4"
        omero["version"] = "0.4"
        return {"multiscales": [multiscale], "omero": omero, "rayrot": rayrot}
    return {"ome": {"version": "0.5", "multiscales": [multiscale], "omero": omero},
            "rayrot": rayrot}


def _omero_channel(label: str, color: str, active: bool = True) -> dict[str, Any]:
    return {"label": label, "color": color, "active": active, "coefficient": 1.0,
            "family": "linear", "inverted": False,
            "window": {"min": 0, "max": 255, "start": 0, "end": 255}}


def finalize_zarr(plan: ZarrPlan, path_tmp: str | os.PathLike, path_final: str | os.PathLike,
                  metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the multiscales metadata, then rename the finished store into place.

    Parameters
    ----------
    plan : ZarrPlan
    path_tmp : str or PathLike
        The store, every chunk of every level written.
    path_final : str or PathLike
        Where the store goes (``out/<name>.zarr``); an existing store there is replaced.
    metadata : dict, optional
        JSON-serialisable extras kept under the group attribute ``"rayrot"`` (source path,
        confidence, ...).

    Returns
    -------
    path_final : Path
    """
    import zarr

    path_tmp, path_final = Path(path_tmp), Path(path_final)
    name = path_final.name[:-5] if path_final.name.endswith(".zarr") else path_final.name
    try:
        group = zarr.open_group(str(path_tmp), mode="r+", zarr_format=plan.zarr_format)
        group.attrs.update(_ngff_attrs(plan, name, metadata))
        _replace(path_tmp, path_final)
    except OSError as exc:
        raise WriteError(f"cannot finish zarr store {path_final}: {exc.strerror or exc}") from exc
    return path_final


def write_ome_zarr(plan: ZarrPlan, source_path: str, source_cfg: Any,
                   out_path: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None,
                   map_fn: Callable[[Callable, Iterable], Iterable] = map) -> Path:
    """Write the corrected image as OME-Zarr, block by block, a few levels a round; atomic.

    Parameters
    ----------
    plan : ZarrPlan
        From :func:`plan_zarr`.
    source_path : str
        The input image.
    source_cfg : SourceConfig
    out_path : str or PathLike
        ``out/<name>.zarr``. The store is built under a hidden temporary name beside it and
        renamed when complete; on any error the temporary store is deleted.
    metadata : dict, optional
        Extras for the ``"rayrot"`` group attribute.
    map_fn : callable, optional
        ``map_fn(func, jobs)`` must call ``func(job)`` for every :class:`BlockJob` of one round
        of :meth:`ZarrPlan.tiers` and return (or yield) the results; it is drained before the
        next round starts. ``func`` is :func:`run_block_job`, a module-level function; each
        job is a small frozen dataclass (not a tuple). The builtin :func:`map` runs
        serially; the pipeline passes a Ray map (``ray.remote(func)`` on each job).

    Returns
    -------
    out_path : Path
    """
    out_path = Path(out_path)
    _ensure_dir(out_path.parent)
    tmp = _tmp_sibling(out_path)
    start = time.perf_counter()
    try:
        open_zarr_store(plan, tmp)
        for first, last in plan.tiers():
            rows, cols, _ = plan.block_grid(first, last)
            jobs = [BlockJob(plan, str(tmp), str(source_path), source_cfg, first, last, n)
                    for n in range(rows * cols)]
            for _ in map_fn(run_block_job, jobs):
                pass
        finalize_zarr(plan, tmp, out_path, metadata)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
        raise
    LOGGER.info("wrote %s (%dx%d, %d levels, %s) in %.2f s", out_path, plan.width, plan.height,
                plan.n_levels, "exact" if plan.exact else f"skew {plan.skew_deg:+.2f} deg",
                time.perf_counter() - start)
    return out_path


# ----------------------------------------------------------------------------- corrected images

_SUFFIXES = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".tif": "tif", ".tiff": "tif"}


def corrected_suffix(path: str | os.PathLike) -> str:
    """Output extension for ``path``: jpg for .jpg/.jpeg, tif for .tif/.tiff, png otherwise.

    >>> corrected_suffix("scan.JPEG"), corrected_suffix("a.webp")
    ('jpg', 'png')
    """
    return _SUFFIXES.get(Path(path).suffix.lower(), "png")


def _format_deg(value: float) -> str:
    """Degrees as a short decimal: 90 -> "90", 87.4 -> "87.4", -3.25 -> "-3.25"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _as_slide(slide_or_path: Any, source_cfg: Any):
    if isinstance(slide_or_path, (str, os.PathLike)):
        if source_cfg is None:
            from .config import load_config

            source_cfg = load_config().source
        return _open_source(str(slide_or_path), source_cfg)
    return slide_or_path


def _load_rgb(slide):
    """The whole level-0 image as a 3-band uchar sRGB pyvips image (normalised by the source)."""
    if getattr(slide, "backend", None) == "vips" and hasattr(slide, "vips_image"):
        return slide.vips_image(0)
    return _vips_from_array(slide.read_region(0, 0, 0, slide.width, slide.height))


def _load_with_alpha(path: str, width: int, height: int):
    """The input with its own alpha, as 4-band uchar sRGB, or None when it has none (or it
    cannot be matched to the source's normalised image)."""
    pyvips = _vips()
    try:
        image = pyvips.Image.new_from_file(path).autorot()
        if not image.hasalpha() or (image.width, image.height) != (width, height):
            return None
        if image.interpretation != "srgb":
            image = image.colourspace("srgb")
        if image.format != "uchar":
            image = image.cast("uchar")
        return image if image.bands == 4 else None
    except pyvips.Error:
        return None


def _correct_vips(image, angle: int, skew: float, fill: str, crop: bool):
    """Rotate a whole pyvips image clockwise by ``angle + skew`` degrees (exact for skew 0)."""
    if skew == 0:
        return image if angle == 0 else image.rot(f"d{angle}")
    src = (image.width, image.height)
    out = _output_size(image.width, image.height, angle, skew, crop)
    return _vips_rotate(image, angle + skew, src, out, (0, 0), (0, 0, *out), fill)


def write_corrected_image(slide_or_path: Any, result: Any, out_dir: str | os.PathLike,
                          out_cfg: Any, *, name: str | None = None,
                          source_cfg: Any = None) -> dict[str, str]:
    """Write ``<name>.corrected.<ext>``, ``<name>.angle.txt`` and ``<name>.meta.json``.

    The image is rotated clockwise by ``result.angle + result.skew_deg`` (an undetermined
    angle counts as 0): pixel-exact for a pure 90-degree multiple, bicubic with the configured
    fill for a fine skew. JPEG is re-encoded at ``out_cfg.jpeg_quality``; PNG and TIFF are
    lossless and keep the alpha of RGBA inputs. The three files appear together or not at all.

    Parameters
    ----------
    slide_or_path : Slide or str
        The opened input, or its path (then opened with ``source_cfg``, default config if None).
    result : DetectionResult
        Must not be a failed result.
    out_dir : str or PathLike
    out_cfg : OutputConfig
        Uses ``image_max_pixels``, ``jpeg_quality``, ``fill`` and ``skew_crop``.
    name : str, optional
        Stem of the three outputs; default the input's file stem.
    source_cfg : SourceConfig, optional

    Returns
    -------
    written : dict
        ``{"image": path, "angle": path, "meta": path}``; empty when the input has more than
        ``out_cfg.image_max_pixels`` pixels (nothing is written).
    """
    start = time.perf_counter()
    if getattr(result, "error", None):
        raise ValueError(f"write_corrected_image: {result.path} failed ({result.error}); "
                         "nothing to correct")
    slide = _as_slide(slide_or_path, source_cfg)
    if slide.width * slide.height > out_cfg.image_max_pixels:
        LOGGER.info("%s: %dx%d is over output.image_max_pixels=%d, no corrected image written",
                    slide.path, slide.width, slide.height, out_cfg.image_max_pixels)
        return {}
    angle = _check_angle(result.angle)
    skew = float(result.skew_deg or 0.0)
    ext = corrected_suffix(slide.path)
    fill = out_cfg.fill
    if fill == "transparent" and ext == "jpg" and skew != 0:
        LOGGER.info("%s: JPEG has no alpha; fill 'transparent' written as white", slide.path)
        fill = "white"
    image = _load_with_alpha(slide.path, slide.width, slide.height) if ext != "jpg" else None
    if image is None:
        image = _load_rgb(slide)
        if fill == "transparent" and skew != 0:
            image = image.bandjoin(255).copy(interpretation="srgb")
    corrected = _correct_vips(image, angle, skew, fill, bool(out_cfg.skew_crop))

    out_dir = Path(out_dir)
    stem = name or Path(slide.path).stem
    paths = {"image": out_dir / f"{stem}.corrected.{ext}", "angle": out_dir / f"{stem}.angle.txt",
             "meta": out_dir / f"{stem}.meta.json"}
    with ExitStack() as stack:
        tmps = {k: stack.enter_context(_atomic(p)) for k, p in paths.items()}
        _save_vips(corrected, tmps["image"], ext, out_cfg.jpeg_quality, paths["image"])
        tmps["angle"].write_text(_format_deg(angle + skew) + "\n")
        meta = _image_meta(slide, result, angle, skew, corrected, paths["image"],
                           time.perf_counter() - start)
        tmps["meta"].write_text(json.dumps(meta, indent=2) + "\n")
    LOGGER.info("wrote %s (rotated %s deg clockwise)", paths["image"], _format_deg(angle + skew))
    return {k: str(p) for k, p in paths.items()}


def _save_vips(image, tmp: Path, ext: str, quality: int, final: Path) -> None:
    pyvips = _vips()
    try:
        if ext == "jpg":
            if image.bands == 4:
                image = image.flatten(background=[255, 255, 255])
            image.jpegsave(str(tmp), Q=int(quality))
        elif ext == "tif":
            image.tiffsave(str(tmp), compression="deflate")
        else:
            image.pngsave(str(tmp))
    except pyvips.Error as exc:
        raise WriteError(f"cannot write {final}: {exc.message}") from exc


def _image_meta(slide, result, angle: int, skew: float, corrected, image_path: Path,
                write_s: float) -> dict[str, Any]:
    seconds = dict(result.seconds or {})
    probs = tuple(result.probabilities or (0.0,) * 4)
    method = " ".join(s for s in ("rayrot", result.model_name, result.model_version) if s)
    return {
        "input": str(slide.path),
        "input_size": [int(slide.width), int(slide.height)],
        "output": image_path.name,
        "output_size": [int(corrected.width), int(corrected.height)],
        "angle": result.angle,
        "skew_deg": skew,
        "rotation_deg": angle + skew,
        "confidence": float(result.confidence),
        "skew_confidence": float(result.skew_confidence),
        "probabilities": {str(a): float(p) for a, p in zip(ANGLES, probs)},
        "method": method,
        "model_name": result.model_name,
        "model_version": result.model_version,
        "milliseconds": round(1000 * (sum(seconds.values()) + write_s), 1),
        "seconds": {**seconds, "write_image": round(write_s, 4)},
    }
