"""Builders of test images made on the fly from real dev images (nothing big is committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mosaic(paths: list[Path], width: int, height: int, cell_px: int = 1024):
    """A lazy pyvips mosaic ``width`` x ``height`` of real images, each upright in its cell.

    The images repeat as often as needed; each is fitted into a white ``cell_px`` square.
    """
    import pyvips

    cells = []
    for p in paths:
        img = pyvips.Image.thumbnail(str(p), cell_px - 32, height=cell_px - 32, size="down")
        img = img.colourspace("srgb")
        if img.hasalpha():
            img = img.flatten(background=[255, 255, 255])
        img = img[:3] if img.bands > 3 else img
        img = img.gravity("centre", cell_px, cell_px, extend="white")
        cells.append(img.copy_memory())
    nx, ny = -(-width // cell_px), -(-height // cell_px)
    grid = [cells[i % len(cells)] for i in range(nx * ny)]
    return pyvips.Image.arrayjoin(grid, across=nx).crop(0, 0, width, height)


def small_item_mosaic(dev_images, path: Path) -> Path:
    """A 10240-px pyramid of 1,600 dev images in 256-px cells, turned so that 90 is right: at
    the first scale (long side 2048) each item is about 50 px, too small to judge.
    ``dev_images(category)`` lists the dev images of a category."""
    paths = [p for c in ("documents", "maps", "photos") for p in dev_images(c)]
    return write_pyramid_tiff(mosaic(paths, 10240, 10240, 256).rot270(), path)


def page_sheet(paths: list[Path], cols: int, rows: int, tilt_deg: float):
    """A lazy grey pyvips sheet of ``cols`` x ``rows`` pages (repeating as needed) at their stored
    size, 30 px apart, tilted as a whole by ``tilt_deg`` (bicubic, white fill, canvas expanded):
    ``skew_deg`` = ``tilt_deg`` straightens it. As benchmarks/skew.py's size-c sheet, shrunk."""
    import pyvips

    pages = [pyvips.Image.new_from_file(str(p)).colourspace("b-w")[0] for p in paths]
    cw, ch = max(p.width for p in pages) + 30, max(p.height for p in pages) + 30
    cells = [pages[i % len(pages)].gravity("centre", cw, ch, extend="white") for i in range(cols * rows)]
    sheet = pyvips.Image.arrayjoin(cells, across=cols)
    # libvips turns clockwise for a positive angle
    return sheet.rotate(-tilt_deg, interpolate=pyvips.Interpolate.new("bicubic"), background=[255])


def write_pyramid_tiff(img, path: Path, tile: int = 512, q: int = 85) -> Path:
    """A tiled, JPEG-compressed pyramidal BigTIFF (pages, as libvips writes them)."""
    img.tiffsave(str(path), tile=True, tile_width=tile, tile_height=tile, pyramid=True,
                 compression="jpeg", Q=q, bigtiff=True)
    return path


def write_svs(rgb_levels: list[np.ndarray], path: Path, tile: int = 256,
              mpp: float = 0.5) -> Path:
    """An Aperio-style .svs that OpenSlide reads as vendor 'aperio' (tifffile, JPEG tiles).

    ``rgb_levels`` are (H, W, 3) uint8 arrays, finest first, each smaller than the last.
    """
    import tifffile

    h, w = rgb_levels[0].shape[:2]
    desc = (f"Aperio Image Library v12.0.5\r\n{w}x{h} [0,0 {w}x{h}] ({tile}x{tile}) "
            f"JPEG/RGB Q=85|AppMag = 20|MPP = {mpp}")
    thumb = rgb_levels[-1][::2, ::2]
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(rgb_levels[0], tile=(tile, tile), compression="jpeg", photometric="rgb",
                  description=desc, subfiletype=0, metadata=None)
        tif.write(thumb, compression="jpeg", photometric="rgb",
                  description=f"Aperio Image Library v12.0.5\r\n{w}x{h} -> "
                              f"{thumb.shape[1]}x{thumb.shape[0]} - |AppMag = 20|MPP = {mpp}")
        for lv in rgb_levels[1:]:
            tif.write(lv, tile=(tile, tile), compression="jpeg", photometric="rgb",
                      description=desc, subfiletype=1)
    return path


def rot90_vips(img, k: int):
    """``np.rot90(img, k)`` for a pyvips image: counter-clockwise by 90k degrees."""
    k %= 4
    return [img, img.rot270(), img.rot180(), img.rot90()][k]
