"""images.parquet and tiles.parquet, each written whole under a temporary name."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from .files import _atomic, is_url
from .tables import TILES_SCHEMA, images_table

__all__ = ["write_images_parquet", "write_tiles_parquet"]

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
