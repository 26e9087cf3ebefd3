"""rayrot: find which way up a gigantic image is, and turn it the right way up.

>>> import rayrot
>>> result = rayrot.detect("slide.svs")            # doctest: +SKIP
>>> result.angle, result.confidence, result.skew_deg  # doctest: +SKIP
(90, 0.97, -1.3)
>>> rayrot.correct("slide.svs", "out/")           # doctest: +SKIP
>>> fixed, result = rayrot.upright(pixels)         # doctest: +SKIP

Importing rayrot is cheap: Ray, torch and pyvips load on first use.
"""

from __future__ import annotations

from .config import RunConfig, load_config, parse_overrides
from .errors import ConfigError, ModelError, RayrotError, SlideReadError, WriteError
from .io import Slide, open_slide
from .result import DetectionResult, TileRecord

__all__ = [
    "detect",
    "correct",
    "upright",
    "detect_dataset",
    "OrientationScorer",
    "shutdown",
    "load_config",
    "parse_overrides",
    "RunConfig",
    "DetectionResult",
    "TileRecord",
    "Slide",
    "open_slide",
    "ImageJob",
    "analyze_image",
    "TileScorer",
    "RayrotError",
    "ConfigError",
    "SlideReadError",
    "ModelError",
    "WriteError",
]

# Names whose modules import torch or scipy: loaded on first use.
_LAZY = {
    "ImageJob": ("engine.job", "ImageJob"),
    "analyze_image": ("engine.local", "analyze_image"),
    "TileScorer": ("scorer", "TileScorer"),
    "OrientationScorer": ("dataset", "OrientationScorer"),
}


def __getattr__(name: str):
    if name == "__version__":  # from the package metadata, read on first use
        from .cli import package_version

        return package_version()
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'rayrot' has no attribute {name!r}")


def detect(paths, config=None, *, progress=None):
    """Orientation of one image (returns a result) or of many (returns a list); paths, or
    images in memory (NumPy arrays, PIL images).

    See :func:`rayrot.api.detect`.
    """
    from .api import detect as _detect

    return _detect(paths, config, progress=progress)


def correct(paths, output_dir, config=None, *, progress=None):
    """Detect and write the corrected outputs; see :func:`rayrot.api.correct`."""
    from .api import correct as _correct

    return _correct(paths, output_dir, config, progress=progress)


def detect_dataset(dataset, config=None, *, path_column="path"):
    """Orientation of every image path in a Ray Dataset; see :func:`rayrot.api.detect_dataset`."""
    from .api import detect_dataset as _detect_dataset

    return _detect_dataset(dataset, config, path_column=path_column)


def upright(image, config=None):
    """An image in memory turned upright: ``(pixels, result)``; see :func:`rayrot.api.upright`."""
    from .api import upright as _upright

    return _upright(image, config)


def shutdown() -> None:
    """Stop rayrot's scoring actors, and the local Ray it started; see :func:`rayrot.api.shutdown`."""
    from .api import shutdown as _shutdown

    _shutdown()
