"""Synthetic training images: shapes, determinism, and the properties training relies on."""

import json
from pathlib import Path

import numpy as np
import pytest

from rayrot.training.synth import (
    KINDS,
    SynthAssets,
    render_document,
    render_map,
    render_sample,
    render_texture,
)

SIZE = (200, 160)  # (height, width), small to keep the tests fast


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    # an empty fonts dir and no text: the system fonts and the built-in text must do
    empty = tmp_path_factory.mktemp("nofonts")
    return SynthAssets.load(empty, empty / "missing")


def test_fallback_assets_have_latin(assets):
    assert "latin" in assets.scripts
    assert assets.text["latin"]


@pytest.mark.parametrize("kind", KINDS)
def test_shape_dtype_and_determinism(assets, kind):
    def make(seed):
        rng = np.random.default_rng(seed)
        if kind == "document":
            return render_document(rng, assets, SIZE)
        if kind == "map":
            return render_map(rng, assets, SIZE)
        return render_texture(rng, SIZE)

    a, b, c = make(7), make(7), make(8)
    assert a.shape == SIZE + (3,) and a.dtype == np.uint8 and a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_sizes_and_render_sample(assets):
    for i, kind in enumerate(KINDS):
        img = render_sample(np.random.default_rng(i), assets, kind)
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
        assert min(img.shape[:2]) >= 32 and max(img.shape[:2]) <= 1400
    with pytest.raises(ValueError, match="kind"):
        render_sample(np.random.default_rng(0), assets, "photo")


def test_documents_are_dark_text_on_light_paper(assets):
    light_pages, inked_pages, n = 0, 0, 16
    for seed in range(n):
        page = render_document(np.random.default_rng(seed), assets, (240, 180))
        lum = page.mean(axis=2)
        bg = np.median(lum)
        light_pages += bg > 170
        inked_pages += np.mean(lum < bg - 60) > 0.002  # there is text (or other ink) on it
    assert inked_pages == n
    assert light_pages >= 0.75 * n


def test_tiny_and_odd_sizes_do_not_fail(assets):
    rng = np.random.default_rng(3)
    for size in [(40, 300), (300, 40), (64, 64)]:
        assert render_document(rng, assets, size).shape == size + (3,)
        assert render_map(rng, assets, size).shape == size + (3,)
        assert render_texture(rng, size).shape == size + (3,)


def test_textures_have_no_up():
    # averaged over many textures, top/bottom and left/right halves look the same
    diffs_tb, diffs_lr, spread = [], [], []
    for seed in range(40):
        t = render_texture(np.random.default_rng(seed), (64, 64)).astype(np.float32).mean(axis=2)
        diffs_tb.append(t[:32].mean() - t[32:].mean())
        diffs_lr.append(t[:, :32].mean() - t[:, 32:].mean())
        spread.append(t.std())
    tol = 3 * np.std(diffs_tb + diffs_lr) / np.sqrt(len(diffs_tb)) + 1.0
    assert abs(np.mean(diffs_tb)) < tol
    assert abs(np.mean(diffs_lr)) < tol
    assert np.mean(spread) > 5  # they are not flat colours


def test_documents_have_an_up(assets):
    # text lines are horizontal: rows vary more than columns, averaged over pages
    row_var, col_var = [], []
    for seed in range(8):
        page = render_document(np.random.default_rng(100 + seed), assets, (256, 256))
        g = page.astype(np.float32).mean(axis=2)
        row_var.append(np.var(g.mean(axis=1)))
        col_var.append(np.var(g.mean(axis=0)))
    assert np.mean(row_var) > np.mean(col_var)


def test_assets_from_manifest_and_text_dir(tmp_path, assets):
    latin_face = next(f for f in assets.families["latin"] if "regular" in f.styles).styles[
        "regular"]
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "fonts.json").write_text(json.dumps([
        {"file": latin_face.path, "family": "Test Family", "style": "Regular",
         "scripts": ["Latn"], "license": "test"},
        {"file": "missing.ttf", "family": "Gone", "style": "Regular", "scripts": ["latin"]},
    ]))
    text = tmp_path / "text"
    text.mkdir()
    (text / "latin.txt").write_text("zebra quokka " * 20 + "\n" + "quokka zebra " * 20 + "\n")
    a = SynthAssets.load(fonts, text)
    assert [f.name for f in a.families["latin"]] == ["Test Family"]
    assert all("quokka" in line for line in a.text["latin"])
    page = render_document(np.random.default_rng(0), a, SIZE)
    assert page.shape == SIZE + (3,)


def test_assets_pickle(assets):
    import pickle

    a = pickle.loads(pickle.dumps(assets))
    x = render_document(np.random.default_rng(5), a, SIZE)
    y = render_document(np.random.default_rng(5), assets, SIZE)
    np.testing.assert_array_equal(x, y)


def test_scan_finds_system_fonts_scripts(assets):
    # the system fallback scanned cmaps: DejaVu Sans covers Cyrillic, Greek, Arabic, Hebrew
    if not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        pytest.skip("DejaVu fonts not installed")
    for script in ("latin", "cyrillic", "greek", "arabic", "hebrew"):
        assert script in assets.scripts
