"""The corrected image as a tiled, pyramidal OME-TIFF with physical pixel sizes (QuPath, Bio-Formats, OMERO).

The pixels stream: the corrected image is a lazy libvips pipeline over the source (an exact
turn, or the bicubic skew) that :func:`rayrot.io.rotate.save_pyramid_tiff` pulls tile row by
tile row into the file, building the pyramid (SubIFDs, 2x2 means) as it goes. This module
makes the OME-XML and names the file; the file is written under a temporary name (or
uploaded whole to object storage) like every output.
"""

from __future__ import annotations

import logging
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..io import rotate as vips_ops
from .files import _atomic
from .geometry import _check_angle, _output_size

__all__ = ["ome_xml", "write_ome_tiff"]

LOGGER = logging.getLogger(__name__)

_OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def ome_xml(name: str, width: int, height: int, mpp_x: float | None = None,
            mpp_y: float | None = None, description: str = "", bits: int = 8) -> str:
    """OME-XML for one interleaved RGB image of ``width`` x ``height`` pixels, ``bits`` (8 or
    16) per sample.

    ``mpp_x``, ``mpp_y`` : micrometres per pixel of *this* image (left out when None).

    >>> 'PhysicalSizeX="0.5"' in ome_xml("a", 4, 3, 0.5, 0.5)
    True
    """
    ET.register_namespace("", _OME_NS)
    root = ET.Element(f"{{{_OME_NS}}}OME", {"Creator": "rayrot"})
    image = ET.SubElement(root, f"{{{_OME_NS}}}Image", {"ID": "Image:0", "Name": name})
    if description:
        ET.SubElement(image, f"{{{_OME_NS}}}Description").text = description
    pixels = {"ID": "Pixels:0", "DimensionOrder": "XYCZT", "Type": f"uint{bits}",
              "SizeX": str(width), "SizeY": str(height), "SizeC": "3", "SizeZ": "1",
              "SizeT": "1", "Interleaved": "true", "SignificantBits": str(bits)}
    if mpp_x is not None and mpp_y is not None:
        pixels.update({"PhysicalSizeX": repr(float(mpp_x)), "PhysicalSizeXUnit": "µm",
                       "PhysicalSizeY": repr(float(mpp_y)), "PhysicalSizeYUnit": "µm"})
    px = ET.SubElement(image, f"{{{_OME_NS}}}Pixels", pixels)
    ET.SubElement(px, f"{{{_OME_NS}}}Channel", {"ID": "Channel:0:0", "SamplesPerPixel": "3"})
    ET.SubElement(px, f"{{{_OME_NS}}}TiffData", {"IFD": "0", "PlaneCount": "1"})
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def write_ome_tiff(slide: Any, result: Any, out_path: str | os.PathLike, out_cfg: Any) -> str:
    """Write ``<name>.ome.tiff``: the input turned by ``result.angle + result.skew_deg``.

    Parameters
    ----------
    slide : Slide
        The opened input (its lazy level 0 is what streams through the save).
    result : DetectionResult
        ``angle`` (None counts as 0), ``skew_deg``, ``mpp_x`` / ``mpp_y`` (micrometres per
        input pixel, swapped for a 90/270-degree turn in the output's metadata).
    out_path : str or PathLike
        A local path or an fsspec URL.
    out_cfg : OutputConfig
        Uses ``ome_tiff_tile_px``, ``ome_tiff_compression``, ``fill``, ``skew_crop``.

    Returns
    -------
    out_path : str
    """
    start = time.perf_counter()
    angle = _check_angle(result.angle)
    skew = float(result.skew_deg or 0.0)
    fill = "white" if out_cfg.fill == "transparent" else out_cfg.fill  # RGB only
    size = _output_size(slide.width, slide.height, angle, skew, bool(out_cfg.skew_crop))
    # the input's own depth (16-bit in, 16-bit out), streamed; else the lazy 8-bit level 0
    level0 = (slide.output_image() if slide.backend == "vips" and slide.output_format == "ushort"
              else vips_ops.lazy_level0(slide))
    corrected = vips_ops.turn_image(level0, angle, skew, size, fill)
    mpp_x, mpp_y = getattr(result, "mpp_x", None), getattr(result, "mpp_y", None)
    if angle in (90, 270):  # the output's x runs along the input's y
        mpp_x, mpp_y = mpp_y, mpp_x
    leaf = str(out_path).rstrip("/").rsplit("/", 1)[-1]
    name = leaf[:-len(".ome.tiff")] if leaf.endswith(".ome.tiff") else Path(leaf).stem
    xml = ome_xml(name, size[0], size[1], mpp_x, mpp_y,
                  f"rotated {angle + skew:g} degrees clockwise by rayrot from {slide.path}",
                  bits=vips_ops.bits_per_sample(corrected))
    with _atomic(out_path) as tmp:
        vips_ops.save_pyramid_tiff(corrected, tmp, description=xml,
                                   tile_px=int(out_cfg.ome_tiff_tile_px),
                                   compression=out_cfg.ome_tiff_compression,
                                   mpp=(mpp_x, mpp_y), final=out_path)
    LOGGER.info("wrote %s (%dx%d) in %.2f s", out_path, size[0], size[1],
                time.perf_counter() - start)
    return str(out_path)
