"""Every pixel format arrives as 8-bit sRGB; levels and regions read only what they must."""

import numpy as np
import pytest
import pyvips
from PIL import Image

from conftest import read_rgb
from images import write_pyramid_tiff, write_svs
from rayrot.errors import SlideReadError
from rayrot.io import Slide, clear_slide_cache, luma, open_slide


@pytest.fixture(scope="module")
def photo(dev):
    return read_rgb(dev("photos")[0])


def _close(a, b, tol):
    return np.abs(a.astype(int) - b.astype(int)).mean() <= tol


def test_formats_normalise_to_rgb8(tmp_path, cfg, photo):
    import pyvips

    grey = np.asarray(Image.fromarray(photo).convert("L"))
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(photo).convert("P", palette=Image.ADAPTIVE).save(tmp_path / "pal.png")
    Image.fromarray(grey).save(tmp_path / "grey.png")
    pyvips.Image.new_from_array(photo.astype(np.uint16) * 257).copy(
        interpretation="rgb16").write_to_file(str(tmp_path / "16.png"))
    pyvips.Image.new_from_array((photo / 255.0).astype(np.float32)).write_to_file(
        str(tmp_path / "float.tif"))
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    for name, ref, tol in [("a.png", photo, 0), ("pal.png", photo, 12), ("16.png", photo, 0.6),
                           ("float.tif", photo, 0.6), ("grey.png", np.dstack([grey] * 3), 0),
                           ("cmyk.jpg", photo, 40)]:
        s = Slide.from_file(tmp_path / name, cfg.source)
        px = s.read_level_region(0, 0, 0, s.width, s.height)
        assert px.dtype == np.uint8 and px.shape == photo.shape, name
        assert _close(px, ref, tol), name


def test_alpha_is_composited_on_white(tmp_path, cfg, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    px = Slide.from_file(tmp_path / "rgba.png", cfg.source).read_level_region(0, 0, 0, 60, 60)
    assert (px[:40, :40] == 255).all()
    assert (px[45:, 45:] == photo[45:60, 45:60]).all()


def test_exif_orientation_is_applied(tmp_path, cfg, photo):
    # Stored rotated, with EXIF orientation 6 ("rotate 90 CW to view"): we must see the photo upright.
    stored = np.rot90(photo, 1)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "exif.jpg", exif=exif, quality=95)
    s = Slide.from_file(tmp_path / "exif.jpg", cfg.source)
    assert (s.width, s.height) == (photo.shape[1], photo.shape[0])
    assert _close(s.read_level_region(0, 0, 0, s.width, s.height), photo, 4)


def test_pyramid_levels_and_regions(tmp_path, cfg, photo):
    import pyvips

    big = pyvips.Image.new_from_array(photo).resize(4.0, kernel="nearest")
    path = write_pyramid_tiff(big, tmp_path / "p.tif", tile=256, q=95)
    s = Slide.from_file(path, cfg.source)
    assert s.is_pyramid and len(s.levels) >= 3
    assert [lv.downsample for lv in s.levels[:3]] == pytest.approx([1, 2, 4], rel=0.01)
    # A region at level 2 (4x down) looks like the original photo's pixels.
    lv = s.levels[2]
    region = s.read_level_region(2, 0, 0, lv.width, lv.height)
    assert _close(region, photo[:lv.height, :lv.width], 8)
    thumb = s.thumbnail(200)
    assert max(thumb.shape[:2]) == 200
    # Grey reads (the skew estimator's) take the luma before the shrink: the same picture.
    rgb = s.read_scaled(1, 1.6, 40, 30, 300, 200)
    grey = s.read_scaled(1, 1.6, 40, 30, 300, 200, grey=True)
    diff = np.abs(grey.astype(int) - luma(rgb).astype(int))
    assert grey.shape == (200, 300) and diff.mean() < 0.3 and (diff <= 1).mean() > 0.99
    # Quarter turns while reading (the writers' 90-degree path) are exact, small or large.
    for w, h in ((70, 45), (1500, 1450)):
        plain = s.read_level_region(0, 33, 17, w, h)
        for k in (1, 2, 3):
            np.testing.assert_array_equal(s.read_level_region(0, 33, 17, w, h, turn=k),
                                          np.rot90(plain, -k))


def test_svs_opens_through_openslide(tmp_path, cfg, photo):
    base = np.tile(photo, (2, 2, 1))[:1024, :1536]
    half = np.asarray(Image.fromarray(base).resize((768, 512)))
    path = write_svs([base, half], tmp_path / "s.svs")
    s = Slide.from_file(path, cfg.source)
    assert s.backend == "openslide" and s.properties["vendor"] == "aperio"
    assert (s.width, s.height) == (1536, 1024) and len(s.levels) == 2
    assert _close(s.read_level_region(1, 100, 50, 64, 64), half[50:114, 100:164], 6)
    assert _close(s.read_level_region(0, 100, 50, 64, 64), base[50:114, 100:164], 6)
    np.testing.assert_array_equal(s.read_level_region(0, 100, 50, 64, 40, turn=3),
                                  np.rot90(s.read_level_region(0, 100, 50, 64, 40), -3))


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not a slide\n"), "not a slide OpenSlide can read"),
])
def test_bad_files_say_why(tmp_path, cfg, make, words):
    path = tmp_path / "bad.svs"
    make(path)
    with pytest.raises(SlideReadError, match=words) as info:
        Slide.from_file(path, cfg.source)
    assert str(path) in str(info.value)


def test_truncated_jpeg_fails_on_read(tmp_path, cfg, photo):
    Image.fromarray(photo).save(tmp_path / "t.jpg", quality=95)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(SlideReadError, match="t.jpg"):
        s = Slide.from_file(tmp_path / "t.jpg", cfg.source)
        s.read_level_region(0, 0, s.height - 10, s.width, 10)


def test_header_claiming_too_many_pixels(tmp_path, cfg):
    # A valid PNG header claiming 100000 x 100000 pixels with no data behind it.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    def chunk_bytes(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk_bytes(b"IHDR", ihdr)
           + chunk_bytes(b"IDAT", zlib.compress(b"\0" * 3000)) + chunk_bytes(b"IEND", b""))
    (tmp_path / "huge.png").write_bytes(png)
    small = cfg.source.__class__(**{**cfg.source.__dict__, "max_pixels": 10 ** 9})
    with pytest.raises(SlideReadError, match="100000x100000"):
        Slide.from_file(tmp_path / "huge.png", small)
    # Within the limit the header opens, and decoding fails with a clear error.
    with pytest.raises(SlideReadError, match="huge.png"):
        Slide.from_file(tmp_path / "huge.png", cfg.source).thumbnail(64)


def test_open_slide_caches_per_process(tmp_path, cfg, photo):
    Image.fromarray(photo).save(tmp_path / "c.png")
    assert open_slide(tmp_path / "c.png", cfg.source) is open_slide(str(tmp_path / "c.png"), cfg.source)
    # A worker done with an ordinary image drops it (and libvips' cached operations) ...
    first = open_slide(tmp_path / "c.png", cfg.source)
    clear_slide_cache()
    again = open_slide(tmp_path / "c.png", cfg.source)
    assert again is not first
    # ... and can read it again when asked, with libvips' operation cache back at its size.
    np.testing.assert_array_equal(again.read_level_region(0, 0, 0, 8, 8), photo[:8, :8])
    assert pyvips.cache_get_max() > 0


def test_scaled_tiles_of_an_ordinary_image_come_from_one_resize(tmp_path, cfg, photo, monkeypatch):
    """Every scaled tile of an ordinary image is cut from one resize of the whole image, so the
    same call gives the same pixels whatever was read before; a tile looks like the tile
    shrunk on its own (the gigapixel path) but for its own edge."""
    photo = np.asarray(Image.fromarray(photo).resize((800, 533), Image.LANCZOS))  # sizes below
    big = np.asarray(Image.fromarray(photo).resize((photo.shape[1] * 3, photo.shape[0] * 3),
                                                   Image.BICUBIC))
    path = tmp_path / "big.png"
    Image.fromarray(big).save(path)
    reads = []
    real = Slide.read_level_region
    monkeypatch.setattr(Slide, "read_level_region",
                        lambda self, *a, **k: reads.append(a) or real(self, *a, **k))
    scale, n = 2.5, 224
    s = Slide.from_file(path, cfg.source)
    assert not s.is_gigapixel
    where = [(x, y) for y in (0, 200, 400) for x in (0, 224, 448, 672)]
    tiles = [s.read_scaled(0, scale, x, y, n, n) for x, y in where]
    whole = (0, 0, s.width, s.height)
    assert [r[1:] for r in reads] == [whole]  # one decode and one resize for all of them
    for (x, y), tile in zip(where, tiles):
        x0, y0, m = round(x * scale), round(y * scale), round(n * scale)
        alone = np.asarray(Image.fromarray(big[y0:y0 + m, x0:x0 + m]).resize((n, n), Image.LANCZOS))
        assert tile.shape == (n, n, 3) and _close(tile, alone, 0.1)
        # grey: the luma resized (a third of the work), within rounding of the tile's luma; a few
        # more levels only where Lanczos overshoots and one colour channel clips at 0 or 255
        grey = s.read_scaled(0, scale, x, y, n, n, grey=True)
        diff = np.abs(grey[5:-5, 5:-5].astype(int) - luma(tile)[5:-5, 5:-5].astype(int))
        assert diff.max() <= 6 and np.mean(diff > 2) < 0.001
        # the same pixel grid: only the tile's own edge (where a lone resize clamps) differs
        np.testing.assert_array_equal(tile[5:-5, 5:-5], alone[5:-5, 5:-5])
    # a fresh reader asked in another order gives the same pixels
    fresh = Slide.from_file(path, cfg.source)
    for (x, y), tile in reversed(list(zip(where[:3], tiles[:3]))):
        np.testing.assert_array_equal(fresh.read_scaled(0, scale, x, y, n, n), tile)
