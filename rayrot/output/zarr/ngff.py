"""OME-NGFF metadata and the whole OME-Zarr write: blocks first, then the multiscales attributes, then rename."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ...errors import WriteError
from ..files import _ensure_dir, _remove, _remove_tree, _replace, _tmp_sibling, is_url
from .plan import ZarrPlan
from .store import BlockJob, _open_source, _zarr_location, open_zarr_store, run_block_job

__all__ = ["finalize_zarr", "write_ome_zarr"]

LOGGER = logging.getLogger(__name__)


def _ngff_attrs(plan: ZarrPlan, name: str, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Group attributes: multiscales + omero (+ rayrot's own ``metadata``)."""
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}]
    # Physical units when the input records its pixel size; bare pixels otherwise.
    physical = plan.mpp_x is not None and plan.mpp_y is not None
    if physical:
        for axis in axes[1:]:
            axis["unit"] = "micrometer"
    step_y, step_x = (plan.mpp_y, plan.mpp_x) if physical else (1.0, 1.0)
    datasets = [{"path": str(i),
                 "coordinateTransformations": [{"type": "scale",
                                                "scale": [1.0, step_y * 2 ** i, step_x * 2 ** i]}]}
                for i in range(plan.n_levels)]
    multiscale: dict[str, Any] = {
        "name": name, "axes": axes, "datasets": datasets, "type": "mean",
        "metadata": {"description": "2x2 mean of the level above; level 0 rotated by rayrot",
                     "method": "rayrot.output"},
    }
    top = 65535 if plan.dtype == "uint16" else 255
    channels = [_omero_channel(label, color, top) for label, color in
                (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF"))]
    if plan.channels == 4:
        channels.append(_omero_channel("alpha", "FFFFFF", top, active=False))
    omero = {"name": name, "channels": channels,
             "rdefs": {"model": "color", "defaultT": 0, "defaultZ": 0}}
    rayrot = {"angle_deg": plan.angle_deg, "skew_deg": plan.skew_deg,
              "source_size": [plan.source_width, plan.source_height], "fill": plan.fill,
              "mpp_x": plan.mpp_x, "mpp_y": plan.mpp_y,
              **dict(metadata or {})}
    if plan.ngff_version == "0.4":
        multiscale["version"] = "0.4"
        omero["version"] = "0.4"
        return {"multiscales": [multiscale], "omero": omero, "rayrot": rayrot}
    return {"ome": {"version": "0.5", "multiscales": [multiscale], "omero": omero},
            "rayrot": rayrot}


def _omero_channel(label: str, color: str, top: int, active: bool = True) -> dict[str, Any]:
    return {"label": label, "color": color, "active": active, "coefficient": 1.0,
            "family": "linear", "inverted": False,
            "window": {"min": 0, "max": top, "start": 0, "end": top}}


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
    path_final : Path, or the URL

    Notes
    -----
    On object storage (``path_final`` a URL) nothing is renamed: the store was written in
    place, and these attributes, which make it an image, are its completion marker, written
    last (a prefix copy would upload every chunk twice).
    """
    import zarr

    remote = is_url(path_final)
    if not remote:
        path_tmp, path_final = Path(path_tmp), Path(path_final)
    leaf = str(path_final).rstrip("/").rsplit("/", 1)[-1]
    name = leaf[:-5] if leaf.endswith(".zarr") else leaf
    try:
        group = zarr.open_group(_zarr_location(path_tmp), mode="r+", zarr_format=plan.zarr_format)
        group.attrs.update(_ngff_attrs(plan, name, metadata))
        if not remote:
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
        renamed when complete; on any error the temporary store is deleted. An fsspec URL
        (``s3://bucket/prefix/<name>.zarr``) is written in place through zarr's
        ``FsspecStore``, every block job writing its chunks to the URL itself, with the
        multiscales metadata last (see :func:`finalize_zarr`); on any error the prefix is
        deleted.
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
    # before any work: an input the store cannot hold whole (an animation, pages, a level 0
    # too big to decode) is refused, and the store takes the input's depth
    slide = _open_source(str(source_path), source_cfg)
    slide.check_correctable()
    plan = dataclasses.replace(plan, dtype="uint16" if slide.output_format == "ushort" else "uint8")
    remote = is_url(out_path)
    if remote:
        out_path = tmp = str(out_path).rstrip("/")
        _remove_tree(tmp)  # an older store there: its chunks must not outlive this write
    else:
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
        if remote:
            _remove_tree(tmp)
        else:
            _remove(tmp)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
        raise
    LOGGER.info("wrote %s (%dx%d, %d levels, %s) in %.2f s", out_path, plan.width, plan.height,
                plan.n_levels, "exact" if plan.exact else f"skew {plan.skew_deg:+.2f} deg",
                time.perf_counter() - start)
    return out_path
