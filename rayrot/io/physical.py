"""Physical pixel size of an input: microns per level-0 pixel from the file's own header.

Read from what each format records, without decoding a pixel:

=============== ==========================================================================
OpenSlide        ``openslide.mpp-x`` / ``openslide.mpp-y`` (Aperio ``MPP``, Hamamatsu ...)
OME-TIFF         ``PhysicalSizeX`` / ``PhysicalSizeY`` of the first ``Pixels`` (with units)
TIFF             ``XResolution`` / ``YResolution`` with ``ResolutionUnit`` inch or centimetre
JPEG, PNG        the DPI of the JFIF header or the ``pHYs`` chunk (PIL's ``info["dpi"]``)
=============== ==========================================================================

A file that records no physical size (or only an aspect ratio) gives ``None`` for both axes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["PixelSize", "UNKNOWN_PIXEL_SIZE", "read_pixel_size", "pixel_size_from_openslide"]

LOGGER = logging.getLogger(__name__)

_MICRONS_PER = {"inch": 25400.0, "centimeter": 10000.0}
# OME's UnitsLength symbols (the ones scanners and converters write) in micrometres.
_OME_UNITS_UM = {"m": 1e6, "cm": 1e4, "mm": 1e3, "µm": 1.0, "um": 1.0, "\u00b5m": 1.0,
                 "nm": 1e-3, "Å": 1e-4, "in": 25400.0}
# TIFF tags and PIL fields written in place of a real density ("no unit"/72 dpi is a default
# that cameras and editors stamp on everything, not a measurement).
_DEFAULT_DPI = {72.0, 96.0}


@dataclass(frozen=True)
class PixelSize:
    """The physical size of one level-0 pixel of an input, as its header records it."""

    mpp_x: float | None  # micrometres per pixel across (x, to the right); None when unknown
    mpp_y: float | None  # micrometres per pixel down (y)
    origin: str = ""  # where it was read: "openslide", "ome-tiff", "tiff", "dpi"; "" if unknown
    # Vendor properties of the file (OpenSlide's key -> value), kept for the outputs' metadata.
    vendor: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def known(self) -> bool:
        return self.mpp_x is not None and self.mpp_y is not None

    def turned(self, angle_deg: int) -> "PixelSize":
        """The pixel size after a clockwise turn by ``angle_deg``: x and y swap for 90 / 270.

        >>> PixelSize(0.5, 0.25).turned(90).mpp_x
        0.25
        """
        if angle_deg % 180 == 90:
            return PixelSize(self.mpp_y, self.mpp_x, self.origin, self.vendor)
        return self


UNKNOWN_PIXEL_SIZE = PixelSize(None, None)


def _positive(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def pixel_size_from_openslide(properties: Mapping[str, str]) -> PixelSize:
    """OpenSlide's ``openslide.mpp-x`` / ``mpp-y`` (micrometres), vendor properties kept."""
    mpp_x = _positive(properties.get("openslide.mpp-x"))
    mpp_y = _positive(properties.get("openslide.mpp-y"))
    vendor = tuple(sorted((str(k), str(v)) for k, v in properties.items()
                          if not str(k).startswith("openslide.level[")))
    if mpp_x is None or mpp_y is None:
        return PixelSize(None, None, "", vendor)
    return PixelSize(mpp_x, mpp_y, "openslide", vendor)


def read_pixel_size(path: str) -> PixelSize:
    """The pixel size a TIFF, OME-TIFF, JPEG or PNG records in its header; unknown otherwise.

    Never raises: a header that cannot be parsed gives :data:`UNKNOWN_PIXEL_SIZE`.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return UNKNOWN_PIXEL_SIZE
    try:
        if magic[:2] in (b"II", b"MM"):
            return _from_tiff(path)
        return _from_dpi(path)
    except Exception as exc:  # a damaged header: the pixels may still read
        LOGGER.info("%s: no pixel size read (%s)", path, exc)
        return UNKNOWN_PIXEL_SIZE


def _from_tiff(path: str) -> PixelSize:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if tif.is_ome and tif.ome_metadata:
            size = _from_ome_xml(tif.ome_metadata)
            if size.known:
                return size
        page = tif.pages.first
        tags = page.tags
        unit = tags.get("ResolutionUnit")
        unit = _MICRONS_PER.get(unit.value.name.lower() if unit is not None and
                                hasattr(unit.value, "name") else "")
        xres, yres = tags.get("XResolution"), tags.get("YResolution")
        if unit is None or xres is None or yres is None:
            return UNKNOWN_PIXEL_SIZE
        px = _positive(xres.value[0] / xres.value[1]) if xres.value[1] else None
        py = _positive(yres.value[0] / yres.value[1]) if yres.value[1] else None
        if px is None or py is None:
            return UNKNOWN_PIXEL_SIZE
        if unit == _MICRONS_PER["inch"] and px in _DEFAULT_DPI and py in _DEFAULT_DPI:
            return UNKNOWN_PIXEL_SIZE
        return PixelSize(unit / px, unit / py, "tiff")


def _from_ome_xml(xml: str) -> PixelSize:
    """``PhysicalSizeX/Y`` of the first ``Pixels`` element, in micrometres (default unit µm)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return UNKNOWN_PIXEL_SIZE
    sizes = []
    for axis in ("X", "Y"):
        value = _positive(pixels.get(f"PhysicalSize{axis}"))
        factor = _OME_UNITS_UM.get(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        sizes.append(None if value is None or factor is None else value * factor)
    if None in sizes:
        return UNKNOWN_PIXEL_SIZE
    return PixelSize(sizes[0], sizes[1], "ome-tiff")


def _from_dpi(path: str) -> PixelSize:
    from PIL import Image

    with Image.open(path) as im:  # header only
        dpi = im.info.get("dpi")
    if not dpi or len(dpi) != 2:
        return UNKNOWN_PIXEL_SIZE
    dx, dy = _positive(dpi[0]), _positive(dpi[1])
    if dx is None or dy is None or (round(dx, 3) in _DEFAULT_DPI and round(dy, 3) in _DEFAULT_DPI):
        return UNKNOWN_PIXEL_SIZE
    return PixelSize(25400.0 / dx, 25400.0 / dy, "dpi")
