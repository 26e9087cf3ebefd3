"""Reading inputs: the only package that imports pyvips or openslide.

    slide   Slide: lazy pyvips / OpenSlide reader, any pixel format -> 8-bit sRGB; open_slide
    vips    the libvips backend: allowed loaders, levels, pixel normalisation and full depth
    physical  PixelSize: microns per pixel from OpenSlide, (OME-)TIFF tags, JPEG/PNG DPI
    remote  inputs on object storage: a local copy of an fsspec URL, per process
    rotate  libvips pixel work for the writers: bicubic rotation of a region, turns, saving
    memory  arrays and PIL images held as Slides, which open_slide finds by name
"""

from .physical import PixelSize
from .slide import (Level, Slide, clear_slide_cache, decode_deadline, luma, open_slide,
                    set_worker_concurrency)

__all__ = ["PixelSize", "Level", "Slide", "luma", "open_slide", "clear_slide_cache",
           "set_worker_concurrency", "decode_deadline"]
