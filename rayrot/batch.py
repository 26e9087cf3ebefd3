"""A batch into an output folder that never loses finished work: :func:`run_batch`.

Each input gets its own outputs (:mod:`rayrot.output.naming`). Each image's outputs are
written as soon as its result arrives, and its rows join ``images.parquet`` and
``tiles.parquet`` a few images later (part files, consolidated into one file each at the end).
Run again into the same folder, a batch skips the inputs whose outputs are complete (same
path, size and modification time, same settings and model), removes what a killed run left
half-written, and ends with the same files and rows as a run that was never stopped.

The order of work: detection on the Ray actor pool (:mod:`rayrot.engine.scheduler`); the
outputs of an ordinary image are written in this process while the actors score the next
ones; a gigapixel image's OME-Zarr is written by Ray tasks once detection is over (they need
the CPUs the actors hold).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from .config import RunConfig
from .errors import RayrotError, root_cause
from .result import DetectionResult

__all__ = ["BatchInterrupted", "run_batch", "config_digest", "failure_message"]

LOGGER = logging.getLogger(__name__)


class BatchInterrupted(KeyboardInterrupt):
    """Raised when a batch is stopped (Ctrl-C); the finished inputs' rows are on disk."""

    def __init__(self, finished: int, total: int):
        super().__init__(f"{finished} of {total} inputs finished")
        self.finished = finished
        self.total = total


def config_digest(cfg: RunConfig) -> str:
    """SHA-256 of what decides an input's outputs: every setting but where Ray runs, and the
    model card (name and version) of the weights the settings name."""
    settings = cfg.to_dict()
    settings.pop("ray", None)
    for key in ("flush_images", "flush_seconds"):  # when rows are written, not what they hold
        settings["output"].pop(key, None)
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    card = _model_card_path(cfg.model.name)
    h.update(card.read_bytes() if card.is_file() else cfg.model.name.encode())
    return h.hexdigest()


def _model_card_path(spec: str) -> Path:
    # The card sits beside the weights (rayrot.model.weights); read here without torch.
    if spec.endswith(".safetensors"):
        return Path(spec).with_suffix(".json")
    return Path(__file__).resolve().parent / "weights" / f"{spec}.json"


def failure_message(path: str, exc: BaseException) -> str:
    """One line, ``<path>: <reason>``, naming the original cause of ``exc`` (unwrapped from
    Ray's exceptions)."""
    exc = root_cause(exc)
    if isinstance(exc, RayrotError):
        reason = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = f" writing {exc.filename}" if exc.filename else ""
        reason = f"{exc.strerror.lower()}{where}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    reason = " ".join(reason.split())
    return reason if reason.startswith(f"{path}: ") else f"{path}: {reason}"


def _stamp(path: str, digest: str) -> dict:
    try:
        st = os.stat(path)
    except OSError:
        return {"input_bytes": None, "input_mtime_ns": None, "config_digest": digest}
    return {"input_bytes": st.st_size, "input_mtime_ns": st.st_mtime_ns, "config_digest": digest}


def _complete(row: dict, stamp: dict, name: str, out: Path) -> bool:
    """True when ``row`` (from an earlier run) is this input's finished, current result."""
    if row.get("error") is not None or stamp["input_bytes"] is None:
        return False
    if any(row.get(k) != v for k, v in stamp.items()):
        return False
    from .output.tables import OUTPUT_KINDS, output_column

    for kind in OUTPUT_KINDS:
        rel = row.get(output_column(kind))
        if rel is not None and (not rel.startswith(f"{name}.") or not (out / rel).exists()):
            return False
    return True


def _result_from_row(row: dict, out: Path) -> DetectionResult:
    from .output.tables import ANGLES, OUTPUT_KINDS, output_column

    outputs = {k: str(out / row[output_column(k)]) for k in OUTPUT_KINDS
               if row.get(output_column(k))}
    seconds = {k[len("seconds_"):]: v for k, v in row.items()
               if k.startswith("seconds_") and v is not None}
    return DetectionResult(
        path=row["path"], width=row["width"], height=row["height"], level=row["level"],
        scale=row["scale"], angle=row["angle"], confidence=row["confidence"],
        probabilities=tuple(row[f"prob_{a}"] for a in ANGLES), skew_deg=row["skew_deg"],
        skew_confidence=row["skew_confidence"], tiles_scored=row["tiles_scored"],
        tiles_skipped=row["tiles_skipped"], tiles_abstained=row["tiles_abstained"],
        seconds=seconds, model_name=row["model_name"], model_version=row["model_version"],
        outputs=outputs)


class _Rows:
    """Rows of finished images not yet on disk; written as part files every few images."""

    def __init__(self, images: Path, tiles: Path | None, out: Path, cfg: RunConfig):
        self.images, self.tiles, self.out, self.cfg = images, tiles, out, cfg
        self.pending: list[tuple[DetectionResult, dict]] = []
        self.since = 0.0

    def add(self, res: DetectionResult, stamp: dict) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append((res, stamp))
        oc = self.cfg.output
        if len(self.pending) >= oc.flush_images or time.monotonic() - self.since >= oc.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        from . import output as writers

        results = [r for r, _ in self.pending]
        table = writers.images_table(results, [s for _, s in self.pending], root=self.out)
        if self.tiles is not None:  # tiles first: an image's row says its tiles are written
            writers.append_part(self.tiles, _tiles(results))
        writers.append_part(self.images, table)
        self.pending = []


def _tiles(results):
    """The tiles of ``results`` as one table in the tiles.parquet schema."""
    import pyarrow as pa

    from .output.tables import TILES_SCHEMA, tile_records_table

    parts = [tile_records_table(r.tiles) for r in results if r.tiles]
    return pa.concat_tables(parts) if parts else TILES_SCHEMA.empty_table()


def run_batch(files: list[str], out_dir, cfg: RunConfig, *, overwrite: bool = False,
              progress=None, on_result=None) -> list[DetectionResult]:
    """Detect ``files`` and write every configured output into ``out_dir``, resumably.

    Parameters
    ----------
    files : list of str
        Expanded input paths (repeats and rayrot's own outputs are dropped here).
    out_dir : path
    cfg : RunConfig
    overwrite : bool
        Redo every input, even those whose outputs are complete.
    progress : tqdm-like, optional
        Made with the number of inputs left to do: ``progress(total) -> bar``.
    on_result : callable, optional
        ``on_result(result)``, in input order of completion, as each input finishes (its
        outputs written, or its error known); inputs skipped as complete come first.

    Returns
    -------
    results : list of DetectionResult, one per input kept, in input order.

    Raises
    ------
    BatchInterrupted
        On Ctrl-C, after the finished inputs' rows are written and temporaries removed.
    WriteError
        The output folder cannot be written, or another run is writing into it.
    """
    from . import output as writers
    from .output.naming import STATE_DIR, batch_inputs, output_names

    out = writers.check_output_dir(out_dir)
    if writers.is_url(out):
        return _run_to_url(files, out, cfg, progress, on_result)
    with writers.output_lock(out):
        writers.remove_temporaries(out)
        files = batch_inputs(files, out)
        names = output_names(files)
        cfg = _correcting(cfg)
        digest = config_digest(cfg)
        stamps = [_stamp(f, digest) for f in files]
        with_parquet = "parquet" in cfg.output.formats
        # Without Parquet output the rows still record what is done, in rayrot's own folder.
        images_path = out / "images.parquet" if with_parquet else out / STATE_DIR / "images.parquet"
        tiles_path = out / "tiles.parquet" if with_parquet else None

        results: list[DetectionResult | None] = [None] * len(files)
        kept_rows = _resume(images_path, tiles_path, files, names, stamps, out, overwrite)
        rows = _Rows(images_path, tiles_path, out, cfg)
        todo = [i for i in range(len(files)) if i not in kept_rows]
        bar = None
        try:
            for i, row in kept_rows.items():
                results[i] = _result_from_row(row, out)
                if on_result is not None:
                    on_result(results[i])
            bar = progress(len(todo)) if progress is not None and todo else None
            _process(todo, files, names, stamps, out, cfg, results, rows, bar, on_result)
        except KeyboardInterrupt:
            rows.flush()
            writers.remove_temporaries(out)
            raise BatchInterrupted(sum(r is not None for r in results), len(files)) from None
        finally:
            if bar is not None:
                bar.close()
        rows.flush()
        writers.consolidate_dataset(images_path, writers.IMAGES_SCHEMA, files)
        if tiles_path is not None:
            writers.consolidate_dataset(tiles_path, writers.TILES_SCHEMA, files)
    return results


def _correcting(cfg: RunConfig) -> RunConfig:
    """``cfg``, measuring every image's skew when an output is a corrected image."""
    if {"zarr", "image", "ome-tiff"} & set(cfg.output.formats):
        return cfg.replace(skew={"after_first_look": True})
    return cfg


class _NoParts:
    """An object-store output keeps no part files: its tables are written whole at the end."""

    def add(self, res: DetectionResult, stamp: dict) -> None:
        pass

    def flush(self) -> None:
        pass


def _run_to_url(files: list[str], out: str, cfg: RunConfig, progress, on_result
                ) -> list[DetectionResult]:
    """:func:`run_batch` into an fsspec URL: the same detection and outputs (each object
    appears whole), the tables uploaded at the end. There is no lock and no resume: both keep
    their state in a local output folder."""
    import pyarrow.parquet as pq

    from . import output as writers
    from .output.files import _atomic
    from .output.naming import batch_inputs, output_names

    files = batch_inputs(files)
    names = output_names(files)
    cfg = _correcting(cfg)
    digest = config_digest(cfg)
    stamps = [_stamp(f, digest) for f in files]
    results: list[DetectionResult | None] = [None] * len(files)
    rows = _NoParts()
    todo = list(range(len(files)))
    bar = progress(len(todo)) if progress is not None and todo else None
    try:
        _process(todo, files, names, stamps, out, cfg, results, rows, bar, on_result)
    finally:
        if bar is not None:
            bar.close()
    if "parquet" in cfg.output.formats:
        done = [(r, st) for r, st in zip(results, stamps) if r is not None]
        tables = {"images.parquet": writers.images_table([r for r, _ in done],
                                                         [st for _, st in done], root=out),
                  "tiles.parquet": _tiles([r for r, _ in done])}
        for leaf, table in tables.items():
            with _atomic(writers.output_child(out, leaf)) as tmp:
                pq.write_table(table, tmp, compression="zstd")
    return results


def _resume(images_path: Path, tiles_path: Path | None, files, names, stamps, out: Path,
            overwrite: bool) -> dict[int, dict]:
    """The rows of the inputs an earlier run finished (index -> row); the tables on disk
    restarted with just those rows."""
    from . import output as writers

    index = {f: i for i, f in enumerate(files)}
    kept: dict[int, dict] = {}
    images = None if overwrite else writers.read_parquet_table(images_path, writers.IMAGES_SCHEMA)
    if images is not None:
        for row in images.to_pylist():
            i = index.get(row["path"])
            if i is not None and i not in kept and _complete(row, stamps[i], names[i], out):
                kept[i] = row
    done_paths = [files[i] for i in sorted(kept)]
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = [kept[i] for i in sorted(kept)]
    writers.restart_dataset(images_path, pa.Table.from_pylist(rows, schema=writers.IMAGES_SCHEMA))
    if tiles_path is not None:
        tiles = None if not kept else writers.read_parquet_table(tiles_path, writers.TILES_SCHEMA)
        if tiles is None:
            tiles = writers.TILES_SCHEMA.empty_table()
        tiles = tiles.filter(pc.is_in(tiles.column("path"), pa.array(done_paths, pa.string())))
        writers.restart_dataset(tiles_path, tiles)
    if kept:
        LOGGER.info("%s: %d of %d inputs already done", out, len(kept), len(files))
    return kept


def _process(todo, files, names, stamps, out, cfg, results, rows, bar, on_result) -> None:
    from .engine.scheduler import ScorerPool, init_ray, ray_map, schedule

    deferred: list[tuple[int, DetectionResult]] = []

    def finish(i: int, res: DetectionResult, map_fn) -> None:
        if res.ok:
            _write(res, names[i], out, cfg, map_fn)
        results[i] = res
        rows.add(res, stamps[i])
        if on_result is not None:
            on_result(res)
        if bar is not None:
            bar.update(1)

    def arrived(k: int, res: DetectionResult) -> None:
        i = todo[k]
        if res.ok and "zarr" in cfg.output.formats and _needs_ray_write(res, cfg):
            deferred.append((i, res))
        else:
            finish(i, res, map)

    if not todo:
        return
    init_ray(cfg)
    schedule([files[i] for i in todo], cfg, None, on_result=arrived)
    if deferred:
        ScorerPool.release_all()  # the chunk-writing tasks need the CPUs the actors hold
        for i, res in deferred:
            finish(i, res, ray_map(cfg))
    else:
        ScorerPool.release_when_idle(cfg.scorer.idle_release_s)


def _needs_ray_write(res: DetectionResult, cfg: RunConfig) -> bool:
    """A corrected OME-Zarr worth Ray's write tasks: an image over the ordinary size (an
    ordinary one is a few blocks, written here faster than tasks are placed)."""
    return res.width * res.height > cfg.source.ordinary_max_pixels


def _write(res: DetectionResult, name: str, out: Path, cfg: RunConfig, map_fn) -> None:
    """Write ``res``'s outputs named ``name``; a failure sets ``res.error`` (one line)."""
    from . import output as writers
    from .io import open_slide

    t0 = time.perf_counter()
    formats = cfg.output.formats
    try:
        slide = open_slide(res.path, cfg.source)  # the run's reader, by the run's rules
        if "zarr" in formats:
            plan = writers.plan_zarr(res.width, res.height, res.angle or 0, res.skew_deg,
                                     cfg.output, mpp=(res.mpp_x, res.mpp_y))
            path = writers.output_child(out, f"{name}.zarr")
            writers.write_ome_zarr(plan, res.path, cfg.source, path, map_fn=map_fn,
                                   metadata=_zarr_metadata(res, slide))
            res.outputs["zarr"] = str(path)
        if "ome-tiff" in formats:
            from .output.ometiff import write_ome_tiff

            res.outputs["ome-tiff"] = write_ome_tiff(
                slide, res, writers.output_child(out, f"{name}.ome.tiff"), cfg.output)
        if "image" in formats and res.width * res.height <= cfg.output.image_max_pixels:
            res.outputs.update(writers.write_corrected_image(
                slide, res, out, cfg.output, name=name, source_cfg=cfg.source))
        if "overlay" in formats:
            from .output.overlay import save_overlay

            path = writers.output_child(out, f"{name}.overlay.png")
            oc = cfg.output
            save_overlay(res, slide, path, thumbnail_px=oc.overlay_thumbnail_px,
                         figure_in=oc.overlay_inches, dpi=oc.overlay_dpi)
            res.outputs["overlay"] = str(path)
    except Exception as exc:
        LOGGER.info("%s", failure_message(res.path, exc), exc_info=True)
        res.error = failure_message(res.path, exc)
    res.seconds["write"] = time.perf_counter() - t0


def _zarr_metadata(res: DetectionResult, slide) -> dict:
    """The corrected store's ``rayrot`` attributes: the input, what was found (``angle_deg``
    beside them is the turn applied: 0 for an undetermined image), and the input's vendor
    properties (OpenSlide's key -> value), kept as the file had them."""
    return {"source": res.path, "angle": res.angle, "undetermined": res.undetermined,
            "confidence": res.confidence, "source_properties": dict(slide.pixel_size.vendor)}
