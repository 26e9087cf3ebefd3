"""images.parquet and tiles.parquet: written whole, or grown part by part during a batch.

During a batch each table is a Parquet dataset, a folder of part files
(``images.parquet/part-00000.parquet`` ...), each written under a temporary name: pandas,
pyarrow and DuckDB (``images.parquet/*.parquet``) read what has finished at any moment. At the
end the parts are consolidated into one file of the same name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .files import _atomic, _ensure_dir, is_url
from .tables import TILES_SCHEMA, images_table

__all__ = ["write_images_parquet", "write_tiles_parquet", "read_parquet_table",
           "restart_dataset", "append_part", "consolidate_dataset"]

LOGGER = logging.getLogger(__name__)


def write_images_parquet(results: Sequence[Any], path: str | os.PathLike) -> Path | str:
    """Write ``images.parquet``: one row per input (:data:`IMAGES_SCHEMA`), atomically.

    Parameters
    ----------
    results : sequence of DetectionResult
    path : str or PathLike
        Destination file; its folder is created if needed. An fsspec URL (``s3://...``)
        is written through that filesystem.

    Returns
    -------
    path : Path, or the URL
    """
    return _write_parquet(images_table(results), path)


def write_tiles_parquet(tables: Iterable[pa.Table], path: str | os.PathLike) -> Path | str:
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
    return _write_parquet(table, path)


def _write_parquet(table: pa.Table, path: str | os.PathLike) -> Path | str:
    path = path if is_url(path) else Path(path)
    with _atomic(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    LOGGER.info("wrote %s (%d rows)", path, table.num_rows)
    return path


def read_parquet_table(path: str | os.PathLike, schema: pa.Schema) -> pa.Table | None:
    """The rows at ``path``, a Parquet file or a folder of part files (in part order), in
    ``schema``; None when there is nothing, or what is there was written with another schema
    (an older rayrot: its rows are not trusted for a resume)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("part-*.parquet"))
    elif path.is_file():
        files = [path]
    else:
        return None
    try:
        parts = [pq.read_table(f) for f in files]
        parts = [t.select(schema.names).cast(schema) for t in parts]
    except (pa.ArrowException, KeyError, OSError) as exc:
        LOGGER.info("%s: not read (%s)", path, exc)
        return None
    return pa.concat_tables(parts) if parts else schema.empty_table()


def restart_dataset(path: str | os.PathLike, table: pa.Table) -> None:
    """Replace whatever is at ``path`` by a dataset folder whose first part holds ``table``."""
    path = Path(path)
    with _atomic(path) as tmp:
        tmp.mkdir()
        pq.write_table(table, tmp / _part_name(0), compression="zstd")


def append_part(path: str | os.PathLike, table: pa.Table) -> Path:
    """Add ``table`` to the dataset folder ``path`` as its next part file; returns the part."""
    path = Path(path)
    _ensure_dir(path)
    numbers = [int(p.stem.split("-")[1]) for p in path.glob("part-*.parquet")]
    part = path / _part_name(max(numbers, default=-1) + 1)
    return _write_parquet(table, part)


def consolidate_dataset(path: str | os.PathLike, schema: pa.Schema, order: list[str]) -> Path:
    """Turn the dataset folder ``path`` into one Parquet file of the same name, its rows in the
    order of their ``path`` column in ``order`` (rows of one input keep their order)."""
    path = Path(path)
    table = read_parquet_table(path, schema)
    if table is None:
        table = schema.empty_table()
    rank = {p: i for i, p in enumerate(order)}
    keys = np.array([rank.get(p, len(rank)) for p in table.column("path").to_pylist()], np.int64)
    table = table.take(pa.array(np.argsort(keys, kind="stable")))
    return _write_parquet(table, path)


def _part_name(n: int) -> str:
    return f"part-{n:05d}.parquet"
