"""Output records as Arrow: the Parquet schemas, images_table and tiles_table."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa

__all__ = ["ANGLES", "IMAGES_SCHEMA", "OUTPUT_KINDS", "TILES_SCHEMA", "TILE_KINDS", "images_table",
           "output_column", "tiles_table", "tile_records_table"]

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

# The files one input can have, each in its own images.parquet column ``output_<kind>``.
OUTPUT_KINDS = {
    "zarr": "corrected OME-Zarr store",
    "image": "corrected ordinary image",
    "angle": "text file holding the applied rotation",
    "meta": "JSON metadata of the corrected image",
    "overlay": "thumbnail with each tile's vote",
    "ome-tiff": "corrected pyramidal OME-TIFF",
}


def output_column(kind: str) -> str:
    """The images.parquet column recording an output of ``kind`` (an OUTPUT_KINDS key).

    >>> output_column("ome-tiff")
    'output_ome_tiff'
    """
    return "output_" + kind.replace("-", "_")

IMAGES_SCHEMA = pa.schema([
    _field("path", pa.string(), "input file"),
    _field("width", pa.int64(), "level-0 width after EXIF orientation", "px"),
    _field("height", pa.int64(), "level-0 height after EXIF orientation", "px"),
    _field("level", pa.int32(), "pyramid level the tiles were read from (0 = full resolution)"),
    _field("scale", pa.float64(), "pixels of pyramid level `level` per pixel of the scale tiles "
           "were scored at (level-0 pixels per such pixel: scale times the level's downsample)",
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
    _field("mpp_x", pa.float64(), "physical width of one level-0 input pixel, as the file "
           "records it; null when unknown", "um", nullable=True),
    _field("mpp_y", pa.float64(), "physical height of one level-0 input pixel; null when "
           "unknown", "um", nullable=True),
    _field("input_bytes", pa.int64(), "size of the input file when it was read; null if "
           "unknown", "byte", nullable=True),
    _field("input_mtime_ns", pa.int64(), "modification time of the input file when it was "
           "read; null if unknown", "ns since the epoch", nullable=True),
    _field("config_digest", pa.string(), "SHA-256 of the settings and model card the row was "
           "made with; null if unknown", nullable=True),
    *[_field(output_column(kind), pa.string(), f"{what}, relative to the output folder; null "
             "when not written", nullable=True) for kind, what in OUTPUT_KINDS.items()],
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
    _field("is_context", pa.bool_(), "true for a context crop (a square larger than a tile, "
           "shrunk into one); null in skew rows", nullable=True),
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



# ----------------------------------------------------------------------------- Parquet


def images_table(results: Sequence[Any], stamps: Sequence[Mapping[str, Any]] | None = None,
                 root: str | os.PathLike | None = None) -> pa.Table:
    """One row per :class:`~rayrot.result.DetectionResult`, in :data:`IMAGES_SCHEMA`.

    Parameters
    ----------
    results : sequence of DetectionResult
        Failed results (``error`` set) give a row with the error and empty fields.
    stamps : sequence of dict, optional
        Per result, ``input_bytes``, ``input_mtime_ns`` and ``config_digest`` (null without).
    root : path, optional
        The output folder: ``output_*`` columns are given relative to it.

    Returns
    -------
    table : pyarrow.Table
    """
    stamps = stamps if stamps is not None else [{}] * len(results)
    rows = [{**_image_row(r), **_outputs_row(r, root), **dict(s)} for r, s in zip(results, stamps)]
    return pa.Table.from_pylist(rows, schema=IMAGES_SCHEMA)


def _outputs_row(r: Any, root: str | os.PathLike | None) -> dict[str, Any]:
    outputs = getattr(r, "outputs", None) or {}
    unknown = set(outputs) - set(OUTPUT_KINDS)
    if unknown:
        LOGGER.info("%s: outputs of unknown kind(s) %s not recorded", r.path, sorted(unknown))
    row = {}
    for kind in OUTPUT_KINDS:
        path = outputs.get(kind)
        if path is not None and root is not None:
            path = os.path.relpath(path, root)
        row[output_column(kind)] = None if path is None else str(path).replace(os.sep, "/")
    return row


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
        "mpp_x": _optional_float(getattr(r, "mpp_x", None)),
        "mpp_y": _optional_float(getattr(r, "mpp_y", None)),
        "error": r.error,
    }
    row.update({f"prob_{a}": float(p) for a, p in zip(ANGLES, probs)})
    seconds = r.seconds or {}
    unknown = set(seconds) - set(_STAGES)
    if unknown:
        LOGGER.info("%s: seconds for unknown stage(s) %s not written", r.path, sorted(unknown))
    row.update({f"seconds_{s}": (float(seconds[s]) if s in seconds else None) for s in _STAGES})
    return row


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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


def tile_records_table(records: Sequence[Any]) -> pa.Table:
    """A result's tiles (:class:`~rayrot.result.TileRecord` s of both kinds, in order) as one
    table in :data:`TILES_SCHEMA`: each kind's rows through :func:`tiles_table`."""
    from dataclasses import asdict

    rows = [asdict(r) for r in records]
    parts = [tiles_table([row for row in rows if row["kind"] == kind], kind=kind)
             for kind in TILE_KINDS]
    parts = [p for p in parts if p.num_rows]
    return pa.concat_tables(parts) if parts else TILES_SCHEMA.empty_table()


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
