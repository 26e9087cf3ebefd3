"""Images held in memory (NumPy arrays, PIL images), opened by name like files.

``rayrot.detect(array)`` builds a :class:`~rayrot.io.Slide` from the pixels and holds it under
a unique name while the per-image engine runs in this process; :func:`~rayrot.io.open_slide`
gives that Slide back for the name, so the engine and the scorer read the array exactly as
they read a file. Nothing is held once the ``with`` block ends.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from ..config import SourceConfig
from .slide import Slide

__all__ = ["hold", "held", "as_pixels", "is_image_object"]

_HELD: dict[str, Slide] = {}
_COUNTER = itertools.count()


def is_image_object(obj: Any) -> bool:
    """Whether ``obj`` is pixels (a NumPy array or a PIL image) rather than a path."""
    return isinstance(obj, np.ndarray) or (hasattr(obj, "mode") and hasattr(obj, "getbands"))


def as_pixels(image: Any) -> np.ndarray:
    """A NumPy array or a PIL image as an array :meth:`Slide.from_array` takes (a PIL image's
    EXIF orientation applied; palette, CMYK and other modes converted to RGB or RGBA)."""
    if isinstance(image, np.ndarray):
        return image
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode not in ("L", "RGB", "RGBA", "I;16"):
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(image)


@contextmanager
def hold(image: Any, cfg: SourceConfig, name: str | None = None) -> Iterator[Slide]:
    """Hold ``image`` (array or PIL image) as a Slide that :func:`open_slide` finds by its
    ``path`` (``name``, or ``<array N HxW>``) until the block ends.

    Raises
    ------
    SlideReadError
        The array's shape or dtype is not an image's.
    """
    pixels = as_pixels(image)
    if name is None:
        shape = "x".join(str(n) for n in pixels.shape[:2][::-1])
        name = f"<array {next(_COUNTER)} {shape}>"
    slide = Slide.from_array(pixels, cfg, name)
    _HELD[name] = slide
    try:
        yield slide
    finally:
        _HELD.pop(name, None)


def held(name: str) -> Slide | None:
    """The Slide held under ``name``, or None."""
    return _HELD.get(name)
