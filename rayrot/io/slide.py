"""Lazy access to one input image, whatever its format and size.

``Slide.from_file(path, cfg)`` reads only the header (and, for pyramids, the headers of
the levels); no pixel is decoded until a region is asked for. Every pixel that leaves
this module is 8-bit sRGB with three bands: CMYK, greyscale, palette, 16-bit and float
inputs are converted, alpha is composited on white, and the EXIF orientation of an
ordinary photo is applied, so level 0 is the image as a viewer shows it.

Two backends sit behind the one class:

======== ===================================================================
vips     anything libvips reads: JPEG, PNG, WebP, TIFF/BigTIFF, pyramidal TIFF
         (pages or sub-IFDs), HEIF ...
openslide slide formats (.svs, .ndpi, .mrxs ...), through openslide-python
======== ===================================================================

pyvips images do not pickle, so processes never send a ``Slide`` to each other: they
send the path and call :func:`open_slide`, which keeps a few open slides per process.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import SourceConfig
from ..errors import SlideReadError, WriteError
from .physical import UNKNOWN_PIXEL_SIZE, PixelSize, pixel_size_from_openslide, read_pixel_size
from .remote import is_remote, local_copy
from .vips import PreviewLevel, VipsSource, decode_deadline, full_depth, one_line as _one_line, open_vips, to_numpy
from .vips import normalise as _normalise

__all__ = ["Level", "Slide", "luma", "open_slide", "clear_slide_cache", "set_worker_concurrency",
           "decode_deadline"]

LOGGER = logging.getLogger(__name__)

# Smallest side, in pixels, of an image rayrot will look at; smaller ones are undetermined.
# (A constant of the format, not a tuning knob: below this there is no content to orient.)
MIN_SIDE_PX = 8
# Larger reads go through crop + write_to_memory: a pyvips Region serves small reads best
# (no pipeline set up per call), but one fetch of a 4096-px square of a JPEG-tiled TIFF runs
# about 2x slower than libvips' own tiled sink (benchmarks/write_profile.py).
_REGION_FETCH_MAX_PX = 1 << 21

# Pixel types Slide.from_array takes (float: 0..1).
_ARRAY_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Level:
    """One pyramid level."""

    index: int  # 0 = full resolution
    width: int  # pixels at this level
    height: int
    downsample: float  # level-0 pixels per pixel of this level


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of ``(h, w, 3)`` uint8 pixels, ``(h, w)`` uint8 (truncated)."""
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)


class Slide:
    """A lazily read image. Use :meth:`from_file` (or :func:`open_slide`) to make one."""

    def __init__(self, path: str, backend: str, levels: tuple[Level, ...], cfg: SourceConfig,
                 handles: list, is_pyramid: bool, properties: dict, *, raw=None,
                 vips_source: VipsSource | None = None):
        self.path = path
        self.backend = backend
        self.levels = levels
        self.is_pyramid = is_pyramid
        self.properties = properties  # format-specific metadata (mpp, vendor ...)
        # Microns per level-0 pixel and vendor properties, as the file's header records them.
        self.pixel_size: PixelSize = UNKNOWN_PIXEL_SIZE
        self._cfg = cfg
        # pyvips.Image (or a PreviewLevel, made when first read) per level, or [OpenSlide]
        self._handles = handles
        self._raw = raw  # libvips: level 0 as loaded, at its own depth (the outputs' pixels)
        self._info = vips_source
        self._regions: dict[int, object] = {}
        self._scaled: dict[tuple[int, float, bool], np.ndarray] = {}  # ordinary images: _scaled_level

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(cls, path: str | os.PathLike, cfg: SourceConfig) -> "Slide":
        """Open ``path``, reading only headers; an fsspec URL (``s3://...``) is first copied
        to a local cache (:func:`rayrot.io.remote.local_copy`).

        Raises
        ------
        SlideReadError
            When the file is missing, empty, of an unknown format, larger than
            ``cfg.max_pixels``, or its header is damaged. The message names the file.
        """
        path = str(path)
        if is_remote(path):
            path = local_copy(path)
        elif path.startswith("file://"):
            path = path[len("file://"):]
        p = Path(path)
        if not p.exists():
            if any(ch in path for ch in "*?["):
                raise SlideReadError(f"{path}: no such file, and as a pattern it matches no file")
            raise SlideReadError(f"{path}: no such file")
        if p.is_dir():
            raise SlideReadError(f"{path}: a folder with no image in it "
                                 f"(searched for {', '.join(cfg.folder_suffixes)})")
        try:
            size = p.stat().st_size
        except OSError as exc:
            raise SlideReadError(f"{path}: cannot stat: {exc.strerror}") from exc
        if size == 0:
            raise SlideReadError(f"{path}: empty file (0 bytes)")
        if not os.access(path, os.R_OK):
            raise SlideReadError(f"{path}: not readable (permission denied)")
        if p.suffix.lower() in cfg.openslide_suffixes or _openslide_vendor(path):
            slide = _open_openslide(path, cfg)
        else:
            slide = _open_vips(path, cfg)
            slide.pixel_size = read_pixel_size(path)
        LOGGER.debug("opened %r", slide)
        if slide.width * slide.height > cfg.max_pixels:
            raise SlideReadError(
                f"{path}: header claims {slide.width}x{slide.height} pixels, more than "
                f"source.max_pixels={cfg.max_pixels}")
        return slide

    @classmethod
    def from_array(cls, pixels: np.ndarray, cfg: SourceConfig, name: str = "<array>") -> "Slide":
        """An image held in memory as a one-level Slide, read by the same rules as a file.

        Parameters
        ----------
        pixels : (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) ndarray
            Grey, RGB or RGBA (alpha composited on white); uint8, uint16, or float in 0..1.
            The Slide keeps a reference to it.
        name : str
            What messages and the tiles call it.
        """
        import pyvips

        arr = np.ascontiguousarray(pixels)
        bands = 1 if arr.ndim == 2 else (arr.shape[2] if arr.ndim == 3 else 0)
        if arr.dtype not in _ARRAY_DTYPES or bands not in (1, 3, 4):
            raise SlideReadError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array of "
                                 f"uint8, uint16 or float, got {arr.dtype} {arr.shape}")
        if arr.shape[0] * arr.shape[1] > cfg.max_pixels:
            raise SlideReadError(f"{name}: {arr.shape[1]}x{arr.shape[0]} pixels, more than "
                                 f"source.max_pixels={cfg.max_pixels}")
        img = pyvips.Image.new_from_array(arr)
        wide = arr.dtype == np.uint16
        interp = ("grey16" if wide else "b-w") if bands == 1 else ("rgb16" if wide else "srgb")
        img = _normalise(img.copy(interpretation=interp))
        levels = (Level(0, img.width, img.height, 1.0),)
        return cls(name, "vips", levels, cfg, [img], False, {"loader": "array"})

    # ------------------------------------------------------------------ geometry
    @property
    def width(self) -> int:
        return self.levels[0].width

    @property
    def height(self) -> int:
        return self.levels[0].height

    @property
    def is_gigapixel(self) -> bool:
        """A pyramid, or a single level over ``source.ordinary_max_pixels``: read at a chosen
        scale rather than given the ordinary-image resize."""
        return self.is_pyramid or self.width * self.height > self._cfg.ordinary_max_pixels

    @property
    def too_small(self) -> bool:
        """True when the image has too few pixels to say anything about its orientation."""
        return min(self.width, self.height) < MIN_SIDE_PX

    # ------------------------------------------------------------------ pixels
    def read_level_region(self, level: int, x: int, y: int, w: int, h: int, *,
                          turn: int = 0) -> np.ndarray:
        """Decode one rectangle of one level, in that level's own pixels.

        (Not OpenSlide's ``read_region``, which takes a level-0 location: hence the name.)

        Parameters
        ----------
        level : int
            Index into :attr:`levels`.
        x, y, w, h : int
            The rectangle, in pixels of that level, origin top left. It must lie inside the level.
        turn : int, optional
            Quarter turns clockwise applied to the rectangle as it is read (libvips turns it
            tile by tile, in cache, 3x cheaper than a numpy copy of the turned array).

        Returns
        -------
        rgb : (h, w, 3) uint8 ndarray
            ``(w, h, 3)`` for an odd ``turn``.
        """
        lv = self._checked_level(level, x, y, w, h)
        try:
            turn %= 4
            if self.backend == "openslide":
                rgb = self._read_openslide(lv, x, y, w, h)
                return np.ascontiguousarray(np.rot90(rgb, -turn)) if turn else rgb
            if turn or w * h > _REGION_FETCH_MAX_PX:
                image = self._handle(level).crop(x, y, w, h)
                if turn:
                    image = image.rot(f"d{90 * turn}")
                buf = image.write_to_memory()
                return np.frombuffer(buf, np.uint8).reshape(image.height, image.width, 3)
            region = self._regions.get(level)
            if region is None:
                import pyvips

                region = self._regions[level] = pyvips.Region.new(self._handle(level))
            buf = region.fetch(x, y, w, h)
            return np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        except SlideReadError:
            raise
        except Exception as exc:  # pyvips.Error, openslide errors, MemoryError ...
            raise self.region_error(level, x, y, w, h, exc) from exc

    def region_error(self, level: int, x: int, y: int, w: int, h: int,
                     exc: BaseException) -> SlideReadError:
        """The one-line error for a rectangle that failed to decode (also raised by callers
        that decode a lazy :meth:`region_image` themselves)."""
        return SlideReadError(f"{self.path}: cannot read region x={x} y={y} w={w} h={h} "
                              f"(level {level}): {_one_line(exc)}")

    def _checked_level(self, level: int, x: int, y: int, w: int, h: int) -> Level:
        """The level, once the rectangle is known to lie inside it."""
        lv = self.levels[level]
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > lv.width or y + h > lv.height:
            raise SlideReadError(f"{self.path}: region x={x} y={y} w={w} h={h} lies outside "
                                 f"level {level} ({lv.width}x{lv.height})")
        self.check_decodable(level)
        return lv

    def _handle(self, level: int):
        """The pyvips image of one level, making a preview level when it is first read."""
        handle = self._handles[level]
        if isinstance(handle, PreviewLevel):
            handle = self._handles[level] = handle.make()
        return handle

    def decodes_whole(self, level: int = 0) -> bool:
        """Whether reading any region of ``level`` decodes the whole level first (a PNG, JPEG,
        WebP or GIF read at random: libvips keeps it in memory or in a temporary file)."""
        return self.backend == "vips" and self._info is not None and not self._info.random_access

    def check_decodable(self, level: int = 0) -> None:
        """Raise :class:`SlideReadError` when a read of ``level`` would decode more than
        ``source.max_decoded_pixels`` pixels whole (nothing is decoded here)."""
        lv = self.levels[level]
        if self.decodes_whole(level) and lv.width * lv.height > self._cfg.max_decoded_pixels:
            raise SlideReadError(
                f"{self.path}: a {lv.width}x{lv.height} {self._format_name} has no random "
                f"access: reading its level {level} would decode {lv.width * lv.height} "
                f"pixels whole, more than source.max_decoded_pixels="
                f"{self._cfg.max_decoded_pixels} (a tiled TIFF of it can be read)")

    @property
    def _format_name(self) -> str:
        loader = self._info.loader if self._info is not None else ""
        return loader[:-4].upper() if loader.endswith("load") else "image"

    # ------------------------------------------------------------------ the outputs' pixels
    @property
    def pages(self) -> int:
        """Pages of a multi-page document or frames of an animation (1 for one image; a
        pyramid's levels are not pages)."""
        return self._info.pages if self._info is not None else 1

    @property
    def output_format(self) -> str:
        """libvips format of :meth:`output_image`: "uchar" (8-bit) or "ushort" (16-bit: 16-bit
        and float inputs)."""
        if self._raw is None:
            return "uchar"
        return full_depth(self._raw, self._info, False).format

    def check_correctable(self, *, pages_ok: bool = False) -> None:
        """Raise :class:`~rayrot.errors.WriteError` when a corrected copy would lose data:
        an animation, the pages of a multi-page file (unless ``pages_ok``: the writer turns
        every page, which needs pages of one size), or a level 0 that would decode more than
        ``source.max_decoded_pixels`` pixels whole."""
        info = self._info
        if info is not None and info.animated:
            raise WriteError(f"{self.path}: an animation of {info.pages} frames; rayrot turns "
                             "single images only (detection looked at the first frame)")
        if self.pages > 1 and not info.same_size_pages:
            raise WriteError(f"{self.path}: {self.pages} pages of different sizes; rayrot "
                             "corrects a multi-page file only when its pages share one size")
        if self.pages > 1 and not pages_ok:
            raise WriteError(f"{self.path}: {self.pages} pages; this output holds one image "
                             "(the corrected TIFF keeps every page)")
        try:
            self.check_decodable(0)
        except SlideReadError as exc:
            raise WriteError(str(exc)) from exc

    def output_image(self, *, alpha: bool = False, page: int = 0):
        """Level 0 (or one page of a multi-page file) as a lazy ``pyvips.Image`` for the
        written outputs: sRGB with 3 bands (4 with ``alpha`` when the input has one), at the
        input's own depth (:attr:`output_format`), EXIF orientation applied.

        Float inputs are scaled by their real range (0..1, 0..255, 0..65535, or their own
        minimum and maximum) to 16 bits, never saturated. OpenSlide formats give 8-bit RGB.
        """
        import pyvips

        if self.backend == "openslide":
            rgb = self.read_level_region(0, 0, 0, self.width, self.height)
            return pyvips.Image.new_from_array(rgb).copy(interpretation="srgb")
        self.check_decodable(0)
        raw = self._raw
        if page:
            raw = pyvips.Image.new_from_file(self.path, access="random", page=page,
                                             fail_on=self._cfg.fail_on)
            if "orientation" in raw.get_fields():
                raw = raw.autorot()
        return full_depth(raw, self._info, alpha)

    def read_output_region(self, x: int, y: int, w: int, h: int, *, turn: int = 0) -> np.ndarray:
        """One rectangle of :meth:`output_image` (no alpha) turned ``turn`` quarter turns
        clockwise: ``(h, w, 3)`` (``(w, h, 3)`` for an odd turn) uint8 or uint16."""
        if self.backend == "openslide" or self.output_format == "uchar":
            return self.read_level_region(0, x, y, w, h, turn=turn)
        self._checked_level(0, x, y, w, h)
        image = self.output_image().crop(x, y, w, h)
        if turn % 4:
            image = image.rot(f"d{90 * (turn % 4)}")
        try:
            return to_numpy(image)
        except Exception as exc:
            raise self.region_error(0, x, y, w, h, exc) from exc

    def output_region_image(self, x: int, y: int, w: int, h: int):
        """:meth:`region_image` of level 0 at the outputs' depth (lazy on the libvips backend)."""
        if self.backend == "openslide" or self.output_format == "uchar":
            return self.region_image(0, x, y, w, h)
        self._checked_level(0, x, y, w, h)
        return self.output_image().crop(x, y, w, h)

    def region_image(self, level: int, x: int, y: int, w: int, h: int):
        """One rectangle of one level as a ``pyvips.Image`` (3-band uchar sRGB) for libvips
        operations to take further (the writers' bicubic rotation).

        On the libvips backend it is lazy: only the source tiles a later operation asks for
        are decoded, and no copy of the rectangle is ever held whole; a decode error then
        comes from that operation (wrap it with :meth:`region_error`). OpenSlide formats are
        decoded with :meth:`read_level_region` and wrapped.
        """
        self._checked_level(level, x, y, w, h)
        import pyvips

        if self.backend == "openslide":
            rgb = self.read_level_region(level, x, y, w, h)
            return pyvips.Image.new_from_array(rgb).copy(interpretation="srgb")
        return self._handle(level).crop(x, y, w, h)

    def read_scaled(self, level: int, scale: float, x: int, y: int, w: int, h: int, *,
                    grey: bool = False) -> np.ndarray:
        """Read a rectangle given in a space ``scale`` times coarser than ``level``.

        ``(x, y, w, h)`` are pixels of the scaled space (level pixels divided by ``scale``);
        the level region under them is decoded and shrunk to ``(h, w, 3)``, or with ``grey``
        to ``(h, w)`` luma (:func:`luma`), taken before the shrink: a third of the resampling
        (the skew estimator reads only grey).
        """
        cut = self._scaled_cut(level, scale, x, y, w, h, grey)
        if cut is not None:
            return cut
        # shrink this rectangle alone
        lv = self.levels[level]
        x0, y0 = int(round(x * scale)), int(round(y * scale))
        x1 = min(lv.width, int(round((x + w) * scale)))
        y1 = min(lv.height, int(round((y + h) * scale)))
        pixels = self.read_level_region(level, x0, y0, max(1, x1 - x0), max(1, y1 - y0))
        from PIL import Image

        return np.asarray(Image.fromarray(luma(pixels) if grey else pixels)
                          .resize((w, h), Image.LANCZOS))

    def _scaled_cut(self, level: int, scale: float, x: int, y: int, w: int, h: int,
                    grey: bool) -> np.ndarray | None:
        """The rectangle when no shrink of its own is needed: at scale 1, or cut from an
        ordinary image's whole shrunk level (:meth:`_scaled_level`); else None."""
        if abs(scale - 1.0) < 1e-6:
            rgb = self.read_level_region(level, x, y, w, h)
            return luma(rgb) if grey else rgb
        if not self.is_gigapixel:
            whole = self._scaled_level(level, scale, grey)
            if x + w <= whole.shape[1] and y + h <= whole.shape[0]:
                return whole[y:y + h, x:x + w]
        return None

    def _scaled_level(self, level: int, scale: float, grey: bool = False) -> np.ndarray:
        """An ordinary image's whole level shrunk ``scale`` times (size ``int(side / scale)``,
        as tile plans count it), RGB or (``grey``) its luma shrunk, made once and kept with
        the slide.

        Every scaled tile of an ordinary image is cut from this one resize,
        whatever was read before, so the same call always gives the same pixels; for
        the default plan's ~20-48 tiles and the skew tiles it also costs less than a resize per
        tile (a sixth less time on the batch benchmark's images), and tiles get no resampling
        edge of their own.
        PIL's LANCZOS; past a 6x shrink, after an exact box reduction to within 3x of the
        target (``reducing_gap``), which PIL documents as indistinguishable from LANCZOS alone.
        """
        key = (level, round(scale, 9), grey)
        cached = self._scaled.get(key)
        if cached is None:
            from PIL import Image

            lv = self.levels[level]
            size = (max(1, int(lv.width / scale)), max(1, int(lv.height / scale)))
            rgb = self.read_level_region(level, 0, 0, lv.width, lv.height)
            if grey:  # luma before the shrink, as a tile read alone: a third of the resampling
                rgb = luma(rgb)
            # Plan pixel x is level pixel x * scale, as in a tile read alone.
            box = (0.0, 0.0, size[0] * scale, size[1] * scale)
            cached = self._scaled[key] = np.asarray(
                Image.fromarray(rgb).resize(size, Image.LANCZOS, box=box, reducing_gap=3.0))
        return cached

    def thumbnail(self, max_px: int) -> np.ndarray:
        """The whole image shrunk so that its long side is at most ``max_px``.

        Decodes the coarsest level that is still at least ``max_px`` long (or streams a
        shrink-on-load thumbnail for single-level files), never the full image at once.

        Returns
        -------
        rgb : (h, w, 3) uint8 ndarray
        """
        long_side = max(self.width, self.height)
        scale0 = min(1.0, max_px / long_side)
        tw = max(1, round(self.width * scale0))
        th = max(1, round(self.height * scale0))
        try:
            if self.backend == "openslide":
                img = self._handles[0].get_thumbnail((tw, th))
                return _composite_pil(img)
            import pyvips

            if len(self.levels) == 1 and self.is_gigapixel and self.properties.get("loader") != "array":
                # A big single-level file: stream a shrink-on-load thumbnail rather than
                # decoding the whole image into memory.
                thumb = pyvips.Image.thumbnail(self.path, max_px, height=max_px, size="down",
                                               fail_on=self._cfg.fail_on)
                return to_numpy(_normalise(thumb, self._info))
            # Coarsest level still at least as large as the thumbnail.
            lv = max((lv for lv in self.levels if max(lv.width, lv.height) >= max(tw, th)),
                     key=lambda lv: lv.downsample, default=self.levels[0])
            img = self._handle(lv.index)
            shrunk = img.resize(tw / lv.width, vscale=th / lv.height, kernel="linear") \
                if (tw, th) != (lv.width, lv.height) else img
            return to_numpy(shrunk)
        except SlideReadError:
            raise
        except Exception as exc:
            raise SlideReadError(f"{self.path}: cannot decode a thumbnail: {_one_line(exc)}") from exc

    def vips_image(self, level: int = 0):
        """The lazy, normalised ``pyvips.Image`` of one level (vips backend only)."""
        if self.backend != "vips":
            raise SlideReadError(f"{self.path}: vips_image() is not available for OpenSlide formats; "
                                 "use read_level_region()")
        return self._handle(level)

    def _read_openslide(self, lv: Level, x: int, y: int, w: int, h: int) -> np.ndarray:
        osr = self._handles[0]
        # OpenSlide takes the location in level-0 pixels and the size in level pixels.
        loc = (int(round(x * lv.downsample)), int(round(y * lv.downsample)))
        return _composite_pil(osr.read_region(loc, lv.index, (w, h)))

    def __repr__(self) -> str:
        return (f"Slide({self.path!r}, {self.width}x{self.height}, backend={self.backend}, "
                f"levels={len(self.levels)})")


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float, cfg: SourceConfig) -> Slide:
    return Slide.from_file(path, cfg)


def clear_slide_cache() -> None:
    """Drop this process's open slides (:func:`open_slide`'s cache) and the decoded pixels
    libvips keeps for them. A worker that has finished an ordinary image calls this: the image
    will not be read again, and its buffers would otherwise pile up over a long batch."""
    import pyvips

    _cached.cache_clear()
    # libvips' operation cache holds recent results (decoded images among them)
    max_ops = pyvips.cache_get_max()
    pyvips.cache_set_max(0)
    pyvips.cache_set_max(max_ops)


def set_worker_concurrency(threads: int) -> None:
    """libvips' thread count for this whole process. For worker processes rayrot owns (scoring
    actors, write tasks): a library call never changes it in the caller's process."""
    import pyvips

    pyvips.concurrency_set(threads)


def open_slide(path: str | os.PathLike, cfg: SourceConfig) -> Slide:
    """:meth:`Slide.from_file`, cached per process (actors and tasks call this with a path);
    an image held in memory (:func:`rayrot.io.memory.hold`) by its name."""
    path = str(path)
    from .memory import held

    slide = held(path)
    if slide is not None:
        return slide
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = -1.0
    return _cached(path, mtime, cfg)


# ---------------------------------------------------------------------- vips backend

def _open_vips(path: str, cfg: SourceConfig) -> Slide:
    handles, raw, info, is_pyramid = open_vips(path, cfg)
    sizes = [h.size if isinstance(h, PreviewLevel) else (h.width, h.height) for h in handles]
    w0 = sizes[0][0]
    levels = tuple(Level(i, w, h, w0 / w) for i, (w, h) in enumerate(sizes))
    return Slide(path, "vips", levels, cfg, handles, is_pyramid, {"loader": info.loader},
                 raw=raw, vips_source=info)


# ---------------------------------------------------------------------- openslide backend

def _openslide_vendor(path: str) -> str | None:
    """OpenSlide's vendor name for slide formats it recognises beyond plain TIFF, else None."""
    if not path.lower().endswith((".tif", ".tiff")):
        return None
    try:
        import openslide

        vendor = openslide.OpenSlide.detect_format(path)
    except Exception:
        return None
    # Generic TIFFs read better through libvips; vendor TIFFs (Aperio, Philips ...) need OpenSlide.
    return vendor if vendor not in (None, "generic-tiff") else None


def _open_openslide(path: str, cfg: SourceConfig) -> Slide:
    try:
        import openslide

        osr = openslide.OpenSlide(path)
    except Exception as exc:
        raise SlideReadError(f"{path}: not a slide OpenSlide can read: {_one_line(exc)}") from exc
    levels = tuple(Level(i, int(w), int(h), float(d)) for i, ((w, h), d) in
                   enumerate(zip(osr.level_dimensions, osr.level_downsamples)))
    props = dict(osr.properties)
    properties = {"vendor": props.get("openslide.vendor"),
                  "mpp_x": props.get("openslide.mpp-x"), "mpp_y": props.get("openslide.mpp-y")}
    slide = Slide(path, "openslide", levels, cfg, [osr], len(levels) > 1, properties)
    slide.pixel_size = pixel_size_from_openslide(props)
    return slide


def _composite_pil(img) -> np.ndarray:
    """RGBA PIL image (OpenSlide's premultiplied-free output) -> RGB on white."""
    from PIL import Image

    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return np.asarray(img.convert("RGB"))
