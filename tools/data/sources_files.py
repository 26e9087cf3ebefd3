"""Selectors that pick image files out of unpacked Debian packages, one function per package.

Each selector takes a ``Fetched`` package (see ``_common``) and yields ``Candidate`` images with
their category (photos, maps, documents, art, textures); ``fetch_sources`` decides which of them
are kept. The selectors that render or draw images (PDF pages, GMT maps) are in
``sources_drawn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from . import _common as C

IMG_EXT = C.IMG_EXT


@dataclass
class Candidate:
    """One image on its way to the output folder."""

    category: str
    package: str
    name: str  # output stem after "<package>__"
    source_path: str  # path inside the package (or a description)
    derivation: str
    load: Callable[[], Image.Image]


# -- shared by the selectors ----------------------------------------------------------------------

def _images(root: Path, sub: str, pattern: str = "**/*") -> list[Path]:
    base = root / sub
    out = [p for p in base.glob(pattern) if p.is_file() and p.suffix.lower() in IMG_EXT]
    return sorted(out)


def spread(items: list, n: int) -> list:
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


def stem(path: Path, root: Path, depth: int = 1) -> str:
    parts = path.relative_to(root).with_suffix("").parts[-depth:]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts))


def _file(cat: str, pkg: str, path: Path, root: Path, depth: int = 1) -> Candidate:
    return Candidate(cat, pkg, stem(path, root, depth), "/" + str(path.relative_to(root)),
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

        out.append(Candidate(cat, pkg, f"{stem(path, root)}_{i}",
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
    for p in spread(files, 160):
        yield _file("art", f.name, p, f.root, depth=2)


def sel_wesnoth(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/games/wesnoth/1.16/data"
    portraits = [p for p in _images(base, "core/images/portraits") if "transparent" not in str(p)]
    for p in spread(portraits, 60):
        yield _file("art", f.name, p, f.root, depth=2)


def sel_neverball(f: C.Fetched) -> Iterator[Candidate]:
    shots = _images(f.root, "usr/share/games/neverball", "shot-*/*")
    for p in spread(shots, 40):
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
        yield Candidate("textures", f.name, stem(p, f.root, 2), "/" + str(p.relative_to(f.root)),
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
