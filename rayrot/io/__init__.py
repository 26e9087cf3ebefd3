"""Reading inputs: the only package that imports pyvips or openslide.

    slide   Slide: lazy pyvips / OpenSlide reader, any pixel format -> 8-bit sRGB; open_slide
    memory  arrays and PIL images held as Slides, which open_slide finds by name
"""

from .slide import Level, Slide, clear_slide_cache, luma, open_slide, set_worker_concurrency

__all__ = ["Level", "Slide", "luma", "open_slide", "clear_slide_cache", "set_worker_concurrency"]
