"""Rotation geometry of a correction: output size, the affine map, and libvips' rotate."""

from __future__ import annotations

import math

import numpy as np

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


def _rotation(theta_deg: float) -> np.ndarray:
    """``R``, (2, 2) float64: turns vectors clockwise on screen (y down) by ``theta_deg``."""
    t = math.radians(theta_deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s], [s, c]])


def _vips_affine_args(theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
                      region_origin: tuple[float, float],
                      out_origin: tuple[float, float]) -> tuple[list[float], float, float]:
    """Matrix and offsets for ``pyvips.Image.affine`` that rotate a source region into a window.

    Parameters
    ----------
    theta_deg : float
        Total clockwise rotation, degrees.
    src_size, out_size : (int, int)
        ``(width, height)`` of the whole source and of the whole output, pixels.
    region_origin : (float, float)
        Top-left of the region handed to libvips, in source pixels.
    out_origin : (float, float)
        Top-left of the output window (``oarea`` starts at 0, 0), in output pixels.

    Returns
    -------
    matrix : list of 4 floats
    odx, ody : float

    Notes
    -----
    libvips puts pixel centres at integer coordinates; the ``R @ (0.5, 0.5) - 0.5`` term
    converts from the continuous convention in the module docstring.
    """
    R = _rotation(theta_deg)
    c_src = np.asarray(src_size, float) / 2
    c_out = np.asarray(out_size, float) / 2
    t = R @ (np.asarray(region_origin, float) - c_src) + c_out - np.asarray(out_origin, float)
    off = R @ np.array([0.5, 0.5]) + t - 0.5
    return [R[0, 0], R[0, 1], R[1, 0], R[1, 1]], float(off[0]), float(off[1])


def _fill_rgba(fill: str) -> tuple[int, int, int, int]:
    return {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255),
            "transparent": (0, 0, 0, 0)}[fill]


def _vips():
    import pyvips  # local: only the rotation helpers need libvips

    return pyvips


def _vips_from_array(pixels: np.ndarray):
    """``(H, W, C)`` uint8, C in 3/4, to a pyvips sRGB image (alpha recognised for C = 4)."""
    image = _vips().Image.new_from_array(np.ascontiguousarray(pixels))
    return image.copy(interpretation="srgb")


def _vips_rotate(image, theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
                 region_origin: tuple[float, float], out_rect: tuple[int, int, int, int],
                 fill: str):
    """Bicubic rotation of ``image`` (a region of the source) into one output window.

    Parameters
    ----------
    image : pyvips.Image
        3- or 4-band sRGB, uchar or ushort; with 4 bands the alpha is resampled premultiplied, so edges
        get no dark fringe.
    out_rect : (x, y, w, h)
        The window of the whole output to produce, output pixels.
    fill : {"white", "black", "transparent"}
        Colour of output pixels that fall outside the source.

    Returns
    -------
    rotated : pyvips.Image, ``w`` x ``h``, same bands as ``image``
    """
    pyvips = _vips()
    x, y, w, h = out_rect
    matrix, odx, ody = _vips_affine_args(theta_deg, src_size, out_size, region_origin, (x, y))
    # the fill's 8-bit colour at the image's own depth
    depth = 257 if image.format == "ushort" else 1
    background = [v * depth for v in _fill_rgba(fill)[:image.bands]]
    return image.affine(matrix, interpolate=pyvips.Interpolate.new("bicubic"), oarea=[0, 0, w, h],
                        odx=odx, ody=ody, background=background, extend="background")
