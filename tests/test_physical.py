"""Physical pixel sizes: read from each format's header, carried into OME-Zarr, Parquet and .meta.json.

Real files made with tifffile and PIL from a shipped image: an Aperio-style .svs (OpenSlide
reads its ``MPP``), TIFFs with resolution tags, an OME-TIFF, JPEG and PNG with a DPI. The
OME-Zarr is read back by ome-zarr-py and validated against the spec by ome-zarr-models.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import tifffile
import zarr
from PIL import Image

from conftest import shipped_images
from images import write_svs
from rayrot import output as writers
from rayrot.io import Slide
from rayrot.io.physical import read_pixel_size
from rayrot.result import DetectionResult


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    with Image.open(shipped_images("photos")[0]) as im:
        return np.asarray(im.convert("RGB").resize((640, 448)))


def _svs(photo, path, mpp):
    base = np.tile(photo, (2, 2, 1))
    half = np.asarray(Image.fromarray(base).resize((base.shape[1] // 2, base.shape[0] // 2)))
    return write_svs([base, half], path, mpp=mpp)


def _ome_scales(path):
    """Level scales and axes as ome-zarr-py reads them, after ome-zarr-models validates the store."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader
    from ome_zarr_models.v04.image import Image as NgffImage

    NgffImage.from_zarr(zarr.open_group(str(path), mode="r"))
    node = list(Reader(parse_url(str(path)))())[0]
    assert node.load(Multiscales) is not None
    scales = [t[0]["scale"] for t in node.metadata["coordinateTransformations"]]
    return scales, node.metadata["axes"]


def test_svs_mpp_reaches_the_zarr_scaled_per_level_and_turned(photo, cfg, tmp_path):
    path = _svs(photo, tmp_path / "slide.svs", 0.252)
    slide = Slide.from_file(path, cfg.source)
    assert slide.backend == "openslide"
    assert (slide.pixel_size.mpp_x, slide.pixel_size.mpp_y) == (0.252, 0.252)
    vendor = dict(slide.pixel_size.vendor)
    assert vendor["openslide.vendor"] == "aperio" and vendor["aperio.MPP"] == "0.252"

    out_cfg = dataclasses.replace(cfg.output, zarr_chunk_px=256)
    plan = writers.plan_zarr(slide.width, slide.height, 90, 0.0, out_cfg,
                             mpp=(slide.pixel_size.mpp_x, slide.pixel_size.mpp_y))
    out = writers.write_ome_zarr(plan, str(path), cfg.source, tmp_path / "slide.zarr",
                                 metadata={"source_properties": vendor})
    scales, axes = _ome_scales(out)
    assert plan.n_levels >= 3
    np.testing.assert_allclose(scales[0], [1, 0.252, 0.252])
    for i, scale in enumerate(scales):
        np.testing.assert_allclose(scale, [1, 0.252 * 2 ** i, 0.252 * 2 ** i])
    assert [a.get("unit") for a in axes] == [None, "micrometer", "micrometer"]
    attrs = zarr.open_group(str(out), mode="r").attrs["rayrot"]
    assert attrs["source_properties"]["aperio.AppMag"] == "20"


def test_anisotropic_pixels_swap_axes_for_a_quarter_turn(photo, cfg, tmp_path):
    # 2540 x 1270 pixels per inch: 10 um across, 20 um down.
    path = tmp_path / "aniso.tif"
    tifffile.imwrite(path, photo, photometric="rgb", resolution=(2540, 1270),
                     resolutionunit="INCH")
    size = Slide.from_file(path, cfg.source).pixel_size
    assert size.origin == "tiff"
    np.testing.assert_allclose((size.mpp_x, size.mpp_y), (10.0, 20.0))
    for angle, expected in ((90, (1, 10.0, 20.0)), (270, (1, 10.0, 20.0)),
                            (180, (1, 20.0, 10.0))):
        plan = writers.plan_zarr(640, 448, angle, 0.0, cfg.output, mpp=(10.0, 20.0))
        scales, _ = _ome_scales(writers.write_ome_zarr(plan, str(path), cfg.source,
                                                       tmp_path / f"a{angle}.zarr"))
        np.testing.assert_allclose(scales[0], expected)


def test_pixel_size_from_each_format(photo, tmp_path):
    tifffile.imwrite(tmp_path / "cm.tif", photo, photometric="rgb", resolution=(4000, 4000),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "ome.ome.tif", photo, photometric="rgb",
                     metadata={"axes": "YXS", "PhysicalSizeX": 0.5,
                               "PhysicalSizeY": 0.25, "PhysicalSizeXUnit": "µm",
                               "PhysicalSizeYUnit": "µm"}, ome=True)
    Image.fromarray(photo).save(tmp_path / "scan.jpg", dpi=(600, 600))
    Image.fromarray(photo).save(tmp_path / "scan.png", dpi=(300, 300))
    Image.fromarray(photo).save(tmp_path / "plain.png")
    Image.fromarray(photo).save(tmp_path / "default.jpg", dpi=(72, 72))
    tifffile.imwrite(tmp_path / "bare.tif", photo, photometric="rgb")
    got = {name: read_pixel_size(str(tmp_path / name)) for name in
           ("cm.tif", "ome.ome.tif", "scan.jpg", "scan.png", "plain.png", "default.jpg",
            "bare.tif")}
    assert (got["cm.tif"].mpp_x, got["cm.tif"].origin) == (pytest.approx(2.5), "tiff")
    assert (got["ome.ome.tif"].mpp_x, got["ome.ome.tif"].mpp_y) == (0.5, 0.25)
    assert got["ome.ome.tif"].origin == "ome-tiff"
    assert got["scan.jpg"].mpp_x == pytest.approx(25400 / 600)
    assert got["scan.png"].mpp_y == pytest.approx(25400 / 300, rel=1e-3)
    for name in ("plain.png", "default.jpg", "bare.tif"):  # no size, or a viewer's default
        assert (got[name].mpp_x, got[name].mpp_y) == (None, None), name


def test_images_parquet_and_meta_json_carry_mpp(photo, cfg, tmp_path):
    src = tmp_path / "scan.png"
    Image.fromarray(photo).save(src, dpi=(600, 600))
    known = DetectionResult(path=str(src), width=640, height=448, angle=90, confidence=0.9,
                            mpp_x=25400 / 600, mpp_y=25400 / 600)
    unknown = DetectionResult(path="other.png", width=10, height=10)
    writers.write_images_parquet([known, unknown], tmp_path / "images.parquet")
    table = pq.read_table(tmp_path / "images.parquet")
    assert table.column("mpp_x").to_pylist() == [pytest.approx(42.333, abs=1e-3), None]
    assert table.schema.field("mpp_y").metadata[b"unit"] == b"um"
    written = writers.write_corrected_image(str(src), known, tmp_path, cfg.output,
                                            source_cfg=cfg.source)
    meta = json.loads(open(written["meta"]).read())
    assert meta["mpp_x"] == pytest.approx(42.333, abs=1e-3)


@pytest.mark.slow
def test_correct_carries_an_svs_pixel_size_end_to_end(photo, cfg, ray_session, tmp_path):
    import rayrot
    from rayrot.config import load_config

    path = _svs(photo, tmp_path / "slide.svs", 0.252)
    run_cfg = load_config(overrides=["output.formats=[parquet, zarr]"])
    [res] = rayrot.correct([path], tmp_path / "out", run_cfg)
    assert res.error is None and (res.mpp_x, res.mpp_y) == (0.252, 0.252)
    row = pq.read_table(tmp_path / "out" / "images.parquet").to_pylist()[0]
    assert (row["mpp_x"], row["mpp_y"]) == (0.252, 0.252)
    scales, _ = _ome_scales(tmp_path / "out" / "slide.zarr")
    np.testing.assert_allclose(scales[1], [1, 0.504, 0.504])
    attrs = zarr.open_group(str(tmp_path / "out" / "slide.zarr"), mode="r").attrs["rayrot"]
    assert attrs["source_properties"]["openslide.vendor"] == "aperio"


def _ome_tiff_levels(path):
    """``(OME Pixels attributes, levels as tifffile reads them, pyvips sub-IFD images)``."""
    import xml.etree.ElementTree as ET

    import pyvips

    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        pixels = next(el for el in ET.fromstring(tif.ome_metadata).iter()
                      if el.tag.endswith("}Pixels"))
        levels = [lv.asarray() for lv in tif.series[0].levels]
    first = pyvips.Image.new_from_file(str(path))
    subs = [pyvips.Image.new_from_file(str(path), subifd=i)
            for i in range(first.get("n-subifds"))]
    return pixels.attrib, levels, [first, *subs]


def test_ome_tiff_of_an_svs_turned_90_has_physical_sizes_and_a_pyramid(photo, cfg, tmp_path):
    from rayrot.output.ometiff import write_ome_tiff

    path = _svs(photo, tmp_path / "slide.svs", 0.252)
    slide = Slide.from_file(path, cfg.source)
    res = DetectionResult(path=str(path), width=slide.width, height=slide.height, angle=90,
                          mpp_x=0.252, mpp_y=0.252)
    out_cfg = dataclasses.replace(cfg.output, ome_tiff_tile_px=256)
    out = write_ome_tiff(slide, res, tmp_path / "slide.ome.tiff", out_cfg)
    attrs, levels, vips_levels = _ome_tiff_levels(out)
    assert (attrs["SizeX"], attrs["SizeY"]) == (str(slide.height), str(slide.width))
    assert float(attrs["PhysicalSizeX"]) == 0.252 and attrs["PhysicalSizeXUnit"] == "µm"
    assert len(levels) >= 2 and len(vips_levels) == len(levels)
    assert levels[0].shape == (slide.width, slide.height, 3)
    assert (vips_levels[1].width, vips_levels[1].height) == (slide.height // 2, slide.width // 2)
    # libvips decodes the JPEG tiles as OpenSlide does, within a rounding step
    want = np.rot90(slide.read_level_region(0, 0, 0, slide.width, slide.height), -1)
    assert np.abs(levels[0].astype(int) - want).mean() < 1.0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    import openslide  # OpenSlide opens it too (its generic-TIFF reader sees level 0 only)

    assert openslide.OpenSlide(str(out)).dimensions == (slide.height, slide.width)


def test_ome_tiff_is_pixel_exact_and_swaps_anisotropic_sizes(photo, cfg, tmp_path):
    from rayrot.output.ometiff import write_ome_tiff

    path = tmp_path / "aniso.tif"
    tifffile.imwrite(path, photo, photometric="rgb", resolution=(2540, 1270),
                     resolutionunit="INCH")
    slide = Slide.from_file(path, cfg.source)
    res = DetectionResult(path=str(path), width=640, height=448, angle=270, mpp_x=10.0,
                          mpp_y=20.0)
    out = write_ome_tiff(slide, res, tmp_path / "aniso.ome.tiff",
                         dataclasses.replace(cfg.output, ome_tiff_tile_px=128))
    attrs, levels, _ = _ome_tiff_levels(out)
    assert (float(attrs["PhysicalSizeX"]), float(attrs["PhysicalSizeY"])) == (20.0, 10.0)
    np.testing.assert_array_equal(levels[0], np.rot90(photo, 1))  # 270 clockwise
    assert read_pixel_size(str(out)).mpp_x == 20.0  # rayrot reads its own output's sizes
