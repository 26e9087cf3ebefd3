"""Pixels to model input, shared by the scorer and the training jobs.

Both sides must see tiles the same way, so the few transforms live here, as plain
functions over NumPy arrays (uint8 RGB, ``(H, W, 3)``).

Angle convention, used everywhere in rayrot: class ``k`` (angle ``90 * k``) is the
*clockwise* rotation that makes the content upright. ``np.rot90(upright, k)`` turns
an upright image *counter-clockwise* by ``90 * k`` degrees, so its label is ``k``::

    >>> import numpy as np
    >>> up = np.zeros((4, 6, 3), np.uint8)
    >>> rotated, label = rotate_by_class(up, 1), 1   # needs 90 deg clockwise to be upright
    >>> rotated.shape
    (6, 4, 3)
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = [
    "ANGLES",
    "rotate_by_class",
    "correct_by_class",
    "pad_to_square",
    "letterbox",
    "resize_square",
    "tile_batch",
    "to_model_input",
]

# The four classes, in the order of the model's logits.
ANGLES = (0, 90, 180, 270)

def rotate_by_class(upright: np.ndarray, k: int) -> np.ndarray:
    """Turn an upright image so that its label becomes ``k`` (counter-clockwise by ``90 * k``)."""
    return np.ascontiguousarray(np.rot90(upright, k % 4))


def correct_by_class(image: np.ndarray, k: int) -> np.ndarray:
    """Undo :func:`rotate_by_class`: rotate clockwise by ``90 * k`` degrees."""
    return np.ascontiguousarray(np.rot90(image, -(k % 4)))


def pad_to_square(rgb: np.ndarray, size: int, value: int) -> np.ndarray:
    """Pad ``rgb`` (at most ``size`` on each side) to ``(size, size, 3)``, content top left,
    with grey ``value`` (the model card's ``pad_value``).

    Used for edge tiles, which are kept at the scale of full tiles rather than stretched.
    """
    h, w = rgb.shape[:2]
    if h > size or w > size:
        raise ValueError(f"pad_to_square: image {w}x{h} is larger than size={size}")
    if h == size and w == size:
        return rgb
    out = np.full((size, size, 3), value, np.uint8)
    out[:h, :w] = rgb
    return out


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize a (roughly) square crop to ``(size, size, 3)`` with an antialiasing filter."""
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR, reducing_gap=2.0))


def letterbox(rgb: np.ndarray, size: int, value: int) -> np.ndarray:
    """Shrink the whole image to fit ``size`` x ``size``, keep its aspect ratio, pad centred
    with grey ``value`` (the model card's ``pad_value``).

    This is the "whole image as one tile" view; the aspect ratio it keeps is itself a cue.
    """
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR, reducing_gap=2.0))
    out = np.full((size, size, 3), value, np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def tile_batch(batch_uint8) -> np.ndarray:
    """``batch_uint8`` as a ``(B, H, W, 3)`` uint8 array of RGB tiles, or ValueError."""
    batch = np.asarray(batch_uint8)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
        raise ValueError(f"predict_proba: batch_uint8 must be (B, H, W, 3) uint8, got "
                         f"{batch.shape} {batch.dtype}")
    return batch


def to_model_input(batch: np.ndarray, mean: tuple[float, float, float],
                   std: tuple[float, float, float]) -> np.ndarray:
    """``(B, H, W, 3)`` uint8 RGB to ``(B, 3, H, W)`` float32, scaled to [0, 1] then normalised."""
    x = batch.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
