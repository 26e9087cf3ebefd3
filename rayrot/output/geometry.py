"""Rotation geometry of a correction: the angle check and the output size (the pixel work is in :mod:`rayrot.io.rotate`)."""

from __future__ import annotations

import math


from .tables import ANGLES

__all__ = []


def _check_angle(angle_deg: int | None) -> int:
    angle = 0 if angle_deg is None else angle_deg
    if angle not in ANGLES:
        raise ValueError(f"angle_deg must be one of {ANGLES} (or None), got {angle_deg!r}")
    return int(angle)


def _output_size(width: int, height: int, angle_deg: int, skew_deg: float,
                 crop: bool) -> tuple[int, int]:
    """``(width, height)`` of the corrected image, in output pixels.

    A pure 90-degree multiple swaps or keeps the sides; a fine skew grows the canvas to the
    bounding box of the rotated image, or keeps the 90-degree size when ``crop``.

    >>> _output_size(100, 50, 90, 0.0, False)
    (50, 100)
    >>> _output_size(100, 100, 0, 45.0, False)
    (142, 142)
    """
    w90, h90 = (height, width) if angle_deg in (90, 270) else (width, height)
    if skew_deg == 0 or crop:
        return w90, h90
    t = math.radians(skew_deg)
    c, s = abs(math.cos(t)), abs(math.sin(t))
    eps = 1e-6  # keep float noise from adding a pixel
    return (max(1, math.ceil(w90 * c + h90 * s - eps)), max(1, math.ceil(w90 * s + h90 * c - eps)))
