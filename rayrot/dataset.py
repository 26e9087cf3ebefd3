"""Ray Data's way in: :class:`OrientationScorer`, a callable class for ``Dataset.map_batches``.

Each row's image (a path, or pixels: an array such as ``ray.data.read_images`` gives) goes
through the per-image engine in the mapping worker (:func:`rayrot.engine.local.analyze_image`,
the loop the scoring actors run), and comes back with its answer::

    import ray, rayrot

    ds = ray.data.from_items([{"path": p, "batch": "b7"} for p in paths])
    out = ds.map_batches(rayrot.OrientationScorer, fn_constructor_kwargs={"config": "fast"},
                         concurrency=2, num_cpus=1, batch_size=8)
    out.take_all()   # every input column, plus angle, confidence, skew_deg, error

The class is plain Python (no ``ray`` import): call it on a dict of columns to try it.
Resources are chosen where it is mapped (``concurrency``, ``num_gpus``), never inside it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .config import RunConfig, load_config, parse_overrides
from .result import DetectionResult

__all__ = ["OrientationScorer", "RESULT_COLUMNS"]

LOGGER = logging.getLogger(__name__)

# The columns OrientationScorer adds to each batch.
RESULT_COLUMNS = ("angle", "confidence", "skew_deg", "error")


def _config(config: RunConfig | str | None, overrides: list[str] | None) -> RunConfig:
    if isinstance(config, RunConfig):
        return config.replace(**parse_overrides(overrides)) if overrides else config
    return load_config(config, overrides)


class OrientationScorer:
    """Orientation of every image of a batch, as Ray Data's ``map_batches`` expects.

    Parameters
    ----------
    config : RunConfig, path or preset name of a YAML file, or None for the defaults
    column : str
        The column holding each row's image: a path, or pixels ((H, W[, C]) array, PIL image).
    overrides : list of str, optional
        ``KEY=VALUE`` settings on top of ``config`` (as ``--set`` on the command line).

    Calling it on ``batch``, a dict of equal-length columns, returns the batch with four
    columns added: ``angle`` (int clockwise degrees 0/90/180/270, None when undetermined or
    failed), ``confidence`` (float 0..1), ``skew_deg`` (float clockwise degrees) and ``error``
    (str, None when the image was read). A bad image never raises: its ``error`` says why.
    """

    def __init__(self, config: RunConfig | str | None = None, *, column: str = "path",
                 overrides: list[str] | None = None):
        from .scorer import TileScorer

        self.cfg = _config(config, overrides)
        self.column = column
        self.scorer = TileScorer(self.cfg)  # the model, loaded once per worker

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.column not in batch:
            raise KeyError(f"OrientationScorer: no column {self.column!r} in the batch "
                           f"(columns: {sorted(batch)}); pass column=...")
        results = [self.detect_one(item) for item in batch[self.column]]
        return {**batch, **result_columns(results)}

    def detect_one(self, image: Any) -> DetectionResult:
        """One image (a path, or pixels) through the per-image engine, in this process."""
        from .engine.job import error_result
        from .engine.local import analyze_image
        from .io import clear_slide_cache
        from .io.memory import is_image_object

        try:
            return analyze_image(image if is_image_object(image) else str(image), self.cfg,
                                 self.scorer)
        except Exception as exc:  # one bad image never stops the batch
            return error_result("<array>" if is_image_object(image) else str(image), exc)
        finally:
            clear_slide_cache()  # an image is read once: keep no buffers of it


def result_columns(results: list[DetectionResult]) -> dict[str, np.ndarray]:
    """The columns :class:`OrientationScorer` adds, one entry per result (None: null)."""
    return {
        "angle": np.array([r.angle for r in results], dtype=object),
        "confidence": np.array([r.confidence for r in results], np.float64),
        "skew_deg": np.array([r.skew_deg for r in results], np.float64),
        "error": np.array([r.error for r in results], dtype=object),
    }
