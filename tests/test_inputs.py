"""Inputs are what they seem, cost a bounded amount each, and their outputs lose nothing silently.

Every bad file is built here from a real image: a truncated JPEG, a JPEG whose header claims
65000x65000 pixels, an SVG and a libvips matrix named .jpg, a literal ``scan[1].jpg``, 16-bit
and float images, a multi-page TIFF and an animated GIF.
"""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image

from conftest import read_rgb, shipped_images
from rayrot.api import expand_inputs
from rayrot.engine.job import ImageJob
from rayrot.engine.local import analyze_image
from rayrot.errors import SlideReadError, TimeLimitError, WriteError
from rayrot.io import Slide
from rayrot.output import write_corrected_image, write_ome_zarr, plan_zarr
from rayrot.result import DetectionResult


@pytest.fixture(scope="module")
def photo_jpeg(tmp_path_factory) -> Path:
    """A real photo re-saved as a baseline JPEG, and its bytes."""
    src = shipped_images("photos")[0]
    path = tmp_path_factory.mktemp("jpeg") / "photo.jpg"
    pyvips.Image.new_from_file(str(src)).jpegsave(str(path), Q=90)
    return path


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_rgb(shipped_images("photos")[0])[:240, :320].copy()


def _result(path, angle=0, skew=0.0) -> DetectionResult:
    return DetectionResult(path=str(path), angle=angle, skew_deg=skew, confidence=0.9,
                           probabilities=(0.9, 0.05, 0.03, 0.02), model_name="m",
                           model_version="t", seconds={})


class _NoScorer:
    """Stands in for the model where a test must fail before anything is scored."""

    model_name, model_version = "none", "0"

    def __call__(self, batch):
        raise AssertionError("nothing should be scored")


# ----------------------------------------------------------------------------- damaged files

def test_damaged_jpeg_is_an_error(photo_jpeg, tmp_path, cfg):
    data = photo_jpeg.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:len(data) // 2])
    # a stray marker in the scan data: libjpeg decodes on, with only a warning
    mid = len(data) // 2
    garbled = tmp_path / "garbled.jpg"
    garbled.write_bytes(data[:mid] + b"\xff\xd3" * 4 + data[mid + 8:])
    for path in (cut, garbled):
        with pytest.raises(SlideReadError, match=f"{path.name}: .*(premature end|Corrupt JPEG)"):
            Slide.from_file(path, cfg.source).thumbnail(256)


def test_header_claiming_65000_px_fails_fast(photo_jpeg, tmp_path, cfg):
    data = bytearray(photo_jpeg.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    path = tmp_path / "huge.jpg"
    path.write_bytes(bytes(data))
    assert path.stat().st_size < 120_000
    res = analyze_image(str(path), cfg, _NoScorer())
    assert res.error and "huge.jpg" in res.error and "Corrupt JPEG data" in res.error
    assert res.seconds.get("open", 0) + res.seconds.get("plan", 0) < 20


# ----------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("name,content,loader", [
    ("drawing.jpg", '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
                    '<rect width="150" height="100" fill="red"/></svg>', "svg"),
    ("numbers.jpg", "3 3\n1 2 3\n4 5 6\n7 8 9\n", "matrix"),
])
def test_vector_and_text_loaders_are_refused(tmp_path, cfg, name, content, loader):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SlideReadError, match=name):
        Slide.from_file(path, cfg.source)
    # libvips itself refuses them now, whatever opens the file in this process
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_file(str(path)).avg()


def test_allowed_loaders_come_from_the_config(tmp_path, cfg, photo):
    path = tmp_path / "a.png"
    Image.fromarray(photo).save(path)
    no_png = cfg.replace(source={"loaders": ["jpegload"]}).source
    with pytest.raises(SlideReadError, match="a.png: not an image.*source.loaders"):
        Slide.from_file(path, no_png)
    assert Slide.from_file(path, cfg.source).width == photo.shape[1]


# ----------------------------------------------------------------------------- names

def test_existing_path_is_literal_before_glob(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "scan[1].jpg")
    Image.fromarray(photo[::-1]).save(tmp_path / "scan1.jpg")
    assert expand_inputs([str(tmp_path / "scan[1].jpg")]) == [str(tmp_path / "scan[1].jpg")]
    assert expand_inputs([str(tmp_path / "scan?.jpg")]) == [str(tmp_path / "scan1.jpg")]


def test_inputs_that_yield_no_image_are_errors(tmp_path, cfg):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    pattern = str(tmp_path / "nothing*.png")
    files = expand_inputs([str(empty), pattern])
    assert files == [str(empty), pattern]
    with pytest.raises(SlideReadError, match="empty: a folder with no image"):
        Slide.from_file(files[0], cfg.source)
    with pytest.raises(SlideReadError, match="matches no file"):
        Slide.from_file(files[1], cfg.source)


# ----------------------------------------------------------------------------- bounded cost

def test_big_png_is_read_from_a_streamed_preview(tmp_path, cfg, photo):
    """A PNG over source.ordinary_max_pixels is planned and scored from one streamed
    shrink-on-load read; its full resolution is never decoded (no random access)."""
    big = pyvips.Image.new_from_array(photo).resize(12, kernel="nearest")  # 3840x2880
    path = tmp_path / "big.png"
    big.pngsave(str(path), compression=1)
    src = cfg.replace(source={"ordinary_max_pixels": 1_000_000, "untiled_preview_px": 1024,
                              "max_decoded_pixels": 2_000_000}).source
    slide = Slide.from_file(path, src)
    assert [(lv.width, lv.height) for lv in slide.levels] == [(3840, 2880), (1024, 768)]
    assert slide.thumbnail(256).shape == (192, 256, 3)
    assert slide.read_level_region(1, 0, 0, 1024, 768).shape == (768, 1024, 3)
    with pytest.raises(SlideReadError, match="big.png: a 3840x2880 PNG has no random access"):
        slide.read_level_region(0, 0, 0, 64, 64)
    with pytest.raises(WriteError, match="source.max_decoded_pixels"):
        write_corrected_image(slide, _result(path, 90), tmp_path / "o",
                              cfg.output.__class__(**{**cfg.output.__dict__,
                                                      "image_max_pixels": 10**9}))
    plan = plan_zarr(slide.width, slide.height, 90, 0.0, cfg.output)
    with pytest.raises(WriteError, match="big.png: a 3840x2880 PNG"):
        write_ome_zarr(plan, str(path), src, tmp_path / "o" / "big.zarr")
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


def test_time_limit_fails_the_image(tmp_path, cfg, photo):
    big = pyvips.Image.new_from_array(photo).resize(16, kernel="nearest")  # 5120x3840
    path = tmp_path / "slow.png"
    big.pngsave(str(path), compression=1)
    slow = cfg.replace(source={"ordinary_max_pixels": 1_000_000},
                       scorer={"image_time_limit_s": 0.01})
    with pytest.raises(TimeLimitError, match="slow.png: took more than scorer.image_time_limit_s"):
        ImageJob(str(path), slow)
    res = analyze_image(str(path), slow, _NoScorer())
    assert "image_time_limit_s" in res.error


# ----------------------------------------------------------------------------- depth and pages

def test_16_bit_png_stays_16_bit(tmp_path, cfg, photo):
    deep = photo.astype(np.uint16) * 257 + 3  # values no 8-bit image holds
    path = tmp_path / "deep.png"
    pyvips.Image.new_from_array(np.rot90(deep, 1)).copy(interpretation="rgb16").pngsave(str(path))
    slide = Slide.from_file(path, cfg.source)
    assert slide.output_format == "ushort"
    written = write_corrected_image(slide, _result(path, 90), tmp_path / "o", cfg.output)
    out = pyvips.Image.new_from_file(written["image"])
    assert out.format == "ushort"
    np.testing.assert_array_equal(out.numpy(), deep)
    assert json.loads(Path(written["meta"]).read_text())["bits_per_sample"] == 16
    plan = plan_zarr(slide.width, slide.height, 90, 0.0, cfg.output)
    store = write_ome_zarr(plan, str(path), cfg.source, tmp_path / "o" / "deep.zarr")
    import zarr

    level0 = zarr.open_group(str(store), mode="r")["0"]
    assert level0.dtype == np.uint16
    np.testing.assert_array_equal(np.moveaxis(level0[:], 0, -1), deep)


def test_16_bit_tiff_stays_16_bit(tmp_path, cfg, photo):
    deep = photo.astype(np.uint16) * 256 + 7
    path = tmp_path / "deep.tif"
    pyvips.Image.new_from_array(np.rot90(deep, 2)).copy(interpretation="rgb16").tiffsave(str(path))
    written = write_corrected_image(str(path), _result(path, 180), tmp_path / "o", cfg.output,
                                    source_cfg=cfg.source)
    np.testing.assert_array_equal(pyvips.Image.new_from_file(written["image"]).numpy(), deep)


def test_float_tiff_of_0_255_is_not_saturated(tmp_path, cfg, photo):
    path = tmp_path / "float.tif"
    pyvips.Image.new_from_array(photo.astype(np.float32)).tiffsave(str(path))
    slide = Slide.from_file(path, cfg.source)
    seen = slide.read_level_region(0, 0, 0, slide.width, slide.height)
    np.testing.assert_array_equal(seen, photo)  # scored as the 8-bit picture it holds
    written = write_corrected_image(slide, _result(path, 0), tmp_path / "o", cfg.output)
    out = pyvips.Image.new_from_file(written["image"]).numpy()
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, photo.astype(np.uint16) * 257)


def test_every_page_of_a_multipage_tiff_is_corrected(tmp_path, cfg, photo):
    pages = [photo, photo[::-1].copy(), 255 - photo]
    path = tmp_path / "pages.tif"
    turned = [np.rot90(p, 1) for p in pages]
    joined = pyvips.Image.arrayjoin([pyvips.Image.new_from_array(p) for p in turned], across=1)
    joined = joined.copy(interpretation="srgb")
    joined.set_type(pyvips.GValue.gint_type, "page-height", turned[0].shape[0])
    joined.tiffsave(str(path))
    slide = Slide.from_file(path, cfg.source)
    assert slide.pages == 3 and not slide.is_pyramid
    written = write_corrected_image(slide, _result(path, 90), tmp_path / "o", cfg.output)
    out = pyvips.Image.new_from_file(written["image"], n=-1)
    assert out.get("n-pages") == 3
    np.testing.assert_array_equal(out.numpy(), np.concatenate(pages, axis=0))
    plan = plan_zarr(slide.width, slide.height, 90, 0.0, cfg.output)
    with pytest.raises(WriteError, match="pages.tif: 3 pages"):
        write_ome_zarr(plan, str(path), cfg.source, tmp_path / "o" / "pages.zarr")


def test_pages_of_different_sizes_are_refused(tmp_path, cfg, photo):
    path = tmp_path / "mixed.tif"
    a = pyvips.Image.new_from_array(photo)
    b = pyvips.Image.new_from_array(np.rot90(photo).copy())  # not smaller: not a pyramid
    a.tiffsave(str(path))
    b.tiffsave(str(tmp_path / "b.tif"))
    Image.open(path).save(path, save_all=True,
                          append_images=[Image.open(tmp_path / "b.tif")])
    slide = Slide.from_file(path, cfg.source)
    with pytest.raises(WriteError, match="mixed.tif: 2 pages of different sizes"):
        write_corrected_image(slide, _result(path, 0), tmp_path / "o", cfg.output)


def test_animated_gif_is_refused_for_correction(tmp_path, cfg, photo):
    path = tmp_path / "anim.gif"
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    slide = Slide.from_file(path, cfg.source)
    with pytest.raises(WriteError, match="anim.gif: an animation of 2 frames"):
        write_corrected_image(slide, _result(path, 0), tmp_path / "o", cfg.output)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
