"""libvips pixel work for the writers: bicubic rotation of a source region, whole-image turns, saving.

The writers in :mod:`rayrot.output` hold the geometry (sizes, block grids, metadata); every
call into libvips they need is here, so :mod:`rayrot.io` stays the only package that imports
pyvips. Images cross this boundary as opaque handles (``pyvips.Image``) or NumPy arrays.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import WriteError

__all__ = ["rotation_matrix", "rotate_region", "operation_cache_off", "whole_image",
           "turn_image", "add_alpha", "bits_per_sample", "to_array", "save_image", "image_size", "lazy_level0",
           "save_pyramid_tiff"]


def rotation_matrix(theta_deg: float) -> np.ndarray:
    """``R``, (2, 2) float64: turns vectors clockwise on screen (y down) by ``theta_deg``."""
    t = math.radians(theta_deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s], [s, c]])


def _affine_args(theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
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
    converts from the continuous convention of :mod:`rayrot.output` (centres at half pixels).
    """
    R = rotation_matrix(theta_deg)
    c_src = np.asarray(src_size, float) / 2
    c_out = np.asarray(out_size, float) / 2
    t = R @ (np.asarray(region_origin, float) - c_src) + c_out - np.asarray(out_origin, float)
    off = R @ np.array([0.5, 0.5]) + t - 0.5
    return [R[0, 0], R[0, 1], R[1, 0], R[1, 1]], float(off[0]), float(off[1])


def _fill_rgba(fill: str) -> tuple[int, int, int, int]:
    return {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255),
            "transparent": (0, 0, 0, 0)}[fill]


def _rotate(image, theta_deg: float, src_size: tuple[int, int], out_size: tuple[int, int],
            region_origin: tuple[float, float], out_rect: tuple[int, int, int, int], fill: str):
    """Bicubic rotation of ``image`` (a region of the source) into one output window, lazily.

    With 4 bands the alpha is resampled premultiplied, so edges get no dark fringe; pixels
    that fall outside the source take ``fill`` ("white", "black" or "transparent").
    """
    import pyvips

    x, y, w, h = out_rect
    matrix, odx, ody = _affine_args(theta_deg, src_size, out_size, region_origin, (x, y))
    # the fill's 8-bit colour at the image's own depth
    depth = 257 if image.format == "ushort" else 1
    background = [v * depth for v in _fill_rgba(fill)[:image.bands]]
    return image.affine(matrix, interpolate=pyvips.Interpolate.new("bicubic"), oarea=[0, 0, w, h],
                        odx=odx, ody=ody, background=background, extend="background")


def rotate_region(slide, box: tuple[int, int, int, int], theta_deg: float,
                  out_size: tuple[int, int], out_rect: tuple[int, int, int, int], fill: str,
                  alpha: bool, full_depth: bool = False) -> np.ndarray:
    """One window of the bicubically rotated level 0, decoded: ``(h, w, C)`` uint8, or at the
    input's own depth (uint16 for 16-bit and float inputs) with ``full_depth``.

    Parameters
    ----------
    slide : Slide
        The source; only ``box`` of its level 0 is read, lazily, as the rotation asks for it.
    box : (x, y, w, h)
        Source rectangle holding every pixel the window samples, level-0 pixels.
    theta_deg : float
        Total clockwise rotation, degrees.
    out_size : (int, int)
        ``(width, height)`` of the whole output.
    out_rect : (x, y, w, h)
        The window of the output to produce, output pixels.
    fill : {"white", "black", "transparent"}
    alpha : bool
        Add an opaque alpha band before rotating (C = 4), so the fill can be transparent.
    full_depth : bool
        Read the outputs' pixels (:meth:`Slide.output_region_image`) instead of 8-bit sRGB.

    Raises
    ------
    SlideReadError
        The source region failed to decode (named by :meth:`Slide.region_error`).
    """
    import pyvips

    sx, sy, sw, sh = box
    region = (slide.output_region_image(sx, sy, sw, sh) if full_depth
              else slide.region_image(0, sx, sy, sw, sh))
    if alpha:
        region = region.bandjoin(65535 if region.format == "ushort" else 255)
    image = _rotate(region, theta_deg, (slide.width, slide.height), out_size, (sx, sy),
                    out_rect, fill)
    try:  # the lazy region decodes here
        pixels = image.numpy()
    except pyvips.Error as exc:
        raise slide.region_error(0, sx, sy, sw, sh, exc) from exc
    _, _, w, h = out_rect
    return pixels.reshape(h, w, image.bands)


@contextmanager
def operation_cache_off() -> Iterator[None]:
    """No libvips operation cache inside the block: no chunk repeats another's operations, and
    the cache would keep up to 100 MB of their results in every worker."""
    import pyvips

    n = pyvips.cache_get_max()
    pyvips.cache_set_max(0)
    try:
        yield
    finally:
        pyvips.cache_set_max(n)


def whole_image(slide):
    """The whole level 0 as a 3-band uchar sRGB ``pyvips.Image``: lazy on the libvips backend,
    decoded into memory for OpenSlide formats."""
    import pyvips

    if slide.backend == "vips":
        return slide.vips_image(0)
    pixels = slide.read_level_region(0, 0, 0, slide.width, slide.height)
    return pyvips.Image.new_from_array(np.ascontiguousarray(pixels)).copy(interpretation="srgb")


def add_alpha(image):
    """``image`` with an opaque alpha band at its own depth (unchanged when it has one)."""
    if image.hasalpha():
        return image
    top = 65535 if image.format == "ushort" else 255
    return image.bandjoin(top).copy(interpretation=image.interpretation)


def to_array(image) -> np.ndarray:
    """Decode a handle from this module: ``(H, W, bands)``, uint8 or uint16 (16-bit images)."""
    dtype = np.uint16 if image.format == "ushort" else np.uint8
    return np.ndarray(buffer=image.write_to_memory(), dtype=dtype,
                      shape=(image.height, image.width, image.bands))


def bits_per_sample(image) -> int:
    """16 for a 16-bit handle from this module, else 8."""
    return 16 if image.format == "ushort" else 8


def image_size(image) -> tuple[int, int]:
    """``(width, height)`` of a handle from this module."""
    return int(image.width), int(image.height)


def turn_image(image, angle_deg: int, skew_deg: float, out_size: tuple[int, int], fill: str):
    """Rotate a whole image clockwise by ``angle_deg + skew_deg`` degrees into ``out_size``,
    lazily: exact index maps (libvips' ``rot``) for a pure 90-degree multiple, else bicubic."""
    if skew_deg == 0:
        return image if angle_deg == 0 else image.rot(f"d{angle_deg}")
    src = (image.width, image.height)
    return _rotate(image, angle_deg + skew_deg, src, out_size, (0, 0), (0, 0, *out_size), fill)


def save_image(pages: list, tmp: str | Path, ext: str, quality: int, final: str | Path) -> None:
    """Save a whole image (``pages``: one per page, all the same size) as ``ext`` ("jpg":
    quality ``quality``, alpha flattened on white; "tif": deflate, a page per image; else PNG)
    to ``tmp``; a libvips failure becomes WriteError naming ``final``."""
    import pyvips

    image = pages[0]
    try:
        if ext == "jpg":
            if image.bands == 4:
                image = image.flatten(background=[255, 255, 255])
            image.jpegsave(str(tmp), Q=int(quality))
        elif ext == "tif":
            if len(pages) > 1:
                image = pyvips.Image.arrayjoin(pages, across=1).copy()
                image.set_type(pyvips.GValue.gint_type, "page-height", pages[0].height)
            image.tiffsave(str(tmp), compression="deflate")
        else:
            image.pngsave(str(tmp))
    except pyvips.Error as exc:
        raise WriteError(f"cannot write {final}: {exc.message}") from exc


def lazy_level0(slide):
    """The whole level 0 as a lazy 3-band uchar sRGB ``pyvips.Image``, decoded only as a
    consumer pulls its pixels.

    The libvips backend's own handle; an OpenSlide format that is a TIFF underneath (Aperio
    .svs, generic and vendor TIFFs) through libvips' TIFF loader, page 0, when that matches
    the slide's level 0. Anything else (e.g. .mrxs) is decoded whole (:func:`whole_image`).
    """
    import pyvips

    from .slide import _normalise

    if slide.backend == "vips":
        return slide.vips_image(0)
    try:
        image = pyvips.Image.new_from_file(slide.path, access="random", fail_on="truncated")
        if (image.get("vips-loader").startswith("tiff")
                and (image.width, image.height) == (slide.width, slide.height)):
            return _normalise(image)
    except pyvips.Error:
        pass
    return whole_image(slide)


def save_pyramid_tiff(image, tmp: str | Path, *, description: str, tile_px: int,
                      compression: str, mpp: tuple[float | None, float | None],
                      final: str | Path) -> None:
    """Save ``image`` as a tiled pyramidal TIFF, the levels below full resolution as SubIFDs
    (the OME-TIFF layout), with ``description`` (OME-XML) as the first IFD's
    ImageDescription.

    libvips streams the lazy ``image`` through the save: it holds a few rows of tiles per
    level, never the whole image. ``mpp`` (micrometres per pixel, x and y) also goes into the
    TIFF resolution tags, in centimetres; a failure becomes WriteError naming ``final``.
    """
    import pyvips

    mpp_x, mpp_y = mpp
    if mpp_x is not None and mpp_y is not None:
        image = image.copy(xres=1000.0 / mpp_x, yres=1000.0 / mpp_y)  # libvips: pixels per mm
    else:
        image = image.copy()
    image.set_type(pyvips.GValue.gstr_type, "image-description", description)
    try:
        image.tiffsave(str(tmp), tile=True, tile_width=tile_px, tile_height=tile_px,
                       pyramid=True, subifd=True, compression=compression, resunit="cm",
                       bigtiff=image.width * image.height * image.bands > 2 ** 31)
    except pyvips.Error as exc:
        raise WriteError(f"cannot write {final}: {exc.message}") from exc
