"""Everything rayrot writes: Parquet tables, OME-Zarr pyramids, corrected ordinary images.

This is the only package that imports pyarrow or zarr, and the only one that creates output
files. Its modules:

    tables      Arrow schemas; DetectionResults and tile columns -> Arrow tables
    files       the writable-folder check (local or fsspec URL) and lock; temporary name, then
                rename; stale temporaries
    naming      one unique output name per input of a batch
    parquet     images.parquet, tiles.parquet, whole or grown part by part
    geometry    rotation geometry of a correction (exact 90-degree turns, bicubic skew)
    zarr.plan   ZarrPlan: shapes, levels, chunks and block rounds of one corrected image
    zarr.store  codecs and block jobs: read the source once, write chunks and levels below
    zarr.ngff   OME-NGFF metadata, and write_ome_zarr, the whole write
    image       corrected ordinary images with their .angle.txt and .meta.json
    ometiff     the corrected image as a tiled pyramidal OME-TIFF with physical sizes
    overlay     the thumbnail with each tile's vote drawn on it (matplotlib)

Every output is first written under a hidden temporary name in its own folder
(``.<name>.tmp-<random>``) and renamed into place when complete, so a crash or an error
never leaves a half-written file or store behind; a failing write raises
:class:`~rayrot.errors.WriteError` naming the path. The output folder may be an fsspec URL
(``s3://bucket/prefix``): files are then uploaded whole, and an OME-Zarr is written in place
with its multiscales metadata last (:mod:`rayrot.output.files`, :func:`finalize_zarr`).

The outputs::

    images.parquet   one row per input       IMAGES_SCHEMA   write_images_parquet(results, path)
    tiles.parquet    one row per tile       TILES_SCHEMA    write_tiles_parquet(tables, path)
    <name>.zarr      corrected image, OME-NGFF multiscales   plan_zarr -> write_ome_zarr
    <name>.ome.tiff  corrected image, pyramidal OME-TIFF     ometiff.write_ome_tiff
    <name>.corrected.<ext>, <name>.angle.txt, <name>.meta.json        write_corrected_image

Geometry. ``angle_deg`` (0/90/180/270) and ``skew_deg`` are *clockwise* rotations that make
the input upright and straight (see :mod:`rayrot.model.preprocess`); the output is the input
rotated clockwise by ``angle_deg + skew_deg`` about its centre. Continuous pixel coordinates
put pixel ``(i, j)``'s centre at ``(j + 0.5, i + 0.5)``; an output point ``p`` comes from the
source point ``c_src + R(theta)^T (p - c_out)`` with ``R(theta) = [[cos, -sin], [sin, cos]]``
(clockwise on screen, y pointing down). A pure multiple of 90 degrees is done with exact
integer index maps (libvips' ``rot``), so it is lossless; a fine skew is resampled
with libvips' bicubic interpolator (through :mod:`rayrot.io.rotate`: only rayrot.io imports pyvips) and
grows the canvas to hold the whole rotated image (``output.skew_crop`` keeps the input's size).

The OME-Zarr writer never holds the whole image: it works in blocks of 2**k x 2**k chunks
(``output.zarr_block_levels``). A level-0 block reads only the source rectangle it needs
(``Slide.read_level_region``, or a lazy ``Slide.region_image`` under the bicubic rotation) and
makes the k levels below it in memory; a later round reads blocks of the last level written
from the store (:meth:`ZarrPlan.tiers`). Blocks are independent jobs (``BlockJob``, plain
picklable data, run by the module-level ``run_block_job``) handed to a ``map_fn``; the
Ray driver passes a Ray map, tests the builtin :func:`map`.
"""

from .files import check_output_dir, is_url, output_child, output_lock, remove_temporaries
from .image import corrected_suffix, write_corrected_image
from .parquet import (append_part, consolidate_dataset, read_parquet_table, restart_dataset,
                      write_images_parquet, write_tiles_parquet)
from .tables import (IMAGES_SCHEMA, OUTPUT_KINDS, TILE_KINDS, TILES_SCHEMA, images_table,
                     tile_records_table,
                     tiles_table)
from .zarr.ngff import finalize_zarr, write_ome_zarr
from .zarr.plan import ZarrPlan, plan_zarr
from .zarr.store import BlockJob, open_zarr_store, run_block_job, write_zarr_block

__all__ = [
    "check_output_dir", "is_url", "output_child", "output_lock", "remove_temporaries",
    "append_part", "consolidate_dataset", "read_parquet_table", "restart_dataset",
    "OUTPUT_KINDS", "corrected_suffix", "write_corrected_image", "write_images_parquet",
    "write_tiles_parquet", "IMAGES_SCHEMA", "TILE_KINDS", "TILES_SCHEMA", "images_table",
    "tiles_table", "tile_records_table", "finalize_zarr", "write_ome_zarr", "ZarrPlan", "plan_zarr", "BlockJob",
    "open_zarr_store", "run_block_job", "write_zarr_block",
]
