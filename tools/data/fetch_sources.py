"""Fetch real training images from allowed Debian packages and write them as upright JPEGs.

    python -m tools.data.fetch_sources --out .data/sources [--cache .data/cache] [--dev DIR]

(from the repository root). This module holds the reserved list, the source list and the main
loop; the selectors are in ``sources_files`` (files taken from packages) and ``sources_drawn``
(PDF pages and GMT maps).

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
  Up to ``sources_drawn._PAGES_PER_PDF`` pages a PDF, evenly spaced; pages that are almost blank are skipped.
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
4. Size budget (this folder, the fonts and the text stay under 64 MB together): long
   edge <= 1024 px for photos and maps, 768 px for document pages, 512 px for art and
   textures; JPEG quality 88 photos, 80 maps/art/textures, 55 documents (grayscale when the
   page has no colour). Deterministic: same packages, same output.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from . import _common as C
from .sources_drawn import sel_gmt, sel_pdfs
from .sources_files import (
    Candidate, sel_desktop_base, sel_etr, sel_gimp_help, sel_gimp_patterns, sel_lomiri,
    sel_lxqt, sel_neverball, sel_openclipart, sel_palapeli, sel_stellarium, sel_tuxpaint_stamps,
    sel_tuxpaint_templates, sel_wallpaper_art, sel_wesnoth)

LOGGER = logging.getLogger("rayrot.data.sources")

RESERVED_DEBIAN, RESERVED_PYPI = C.RESERVED_DEBIAN, C.RESERVED_PYPI
REFUSED_DEPENDENTS = frozenset({"lomiri-wallpapers", "xplanet"})  # depend on reserved packages
RESERVED = RESERVED_DEBIAN | RESERVED_PYPI | REFUSED_DEPENDENTS

CATEGORIES = ("photos", "maps", "documents", "art", "textures")
_QUALITY = {"photos": 88, "documents": 55, "maps": 80, "art": 80, "textures": 80}
_LONG_EDGE_PX = {"photos": 1024, "documents": 768, "maps": 1024, "art": 512, "textures": 512}
_MIN_SIDE_PX = 96

# The dev set the near-duplicate guard compares against, relative to the repository root.
DEFAULT_DEV = Path("../shared/data/dev")


@dataclass
class Stats:
    """Counts of one run, written to ``summary.json``."""

    kept: dict = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    dropped_dev: list = field(default_factory=list)
    dropped_dup: int = 0
    dropped_small: int = 0
    dropped_blank: int = 0
    per_package: dict = field(default_factory=dict)


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



# -- main loop -----------------------------------------------------------------------------



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
        if C.is_blank(im):
            stats.dropped_blank += 1
            continue
        im = C.shrink(im, _LONG_EDGE_PX[cand.category])
        h_full, kind, near, bits = C.near_copy(im, dev, train)
        if kind == "dev":
            stats.dropped_dev.append(f"{cand.package}:{cand.name} ~ {near} ({bits} bits)")
            continue
        if kind == "dup":
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
    ap.add_argument("--dev", type=Path, default=DEFAULT_DEV,
                    help="folder of dev (evaluation) images no training image may be near "
                         "(default: %(default)s)")
    ap.add_argument("--only", nargs="*", default=None, help="package names to (re)do")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    for tool in ("pdftoppm", "pdfinfo", "apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y poppler-utils gmt "
                             "gmt-gshhg-low gmt-dcw ghostscript")
    if not args.dev.is_dir():
        raise SystemExit(f"--dev {args.dev} is not a folder: the near-duplicate guard needs it")
    dev = C.dev_index(args.dev)
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
