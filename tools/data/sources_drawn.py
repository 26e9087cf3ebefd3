"""Selectors that render or draw images: pages of PDF manuals (pdftoppm) and coastline maps (GMT).

``sel_pdfs`` renders evenly spaced pages of a package's PDFs; ``sel_gmt`` draws seeded-random
maps from GMT's GSHHG shorelines and DCW borders. Both need tools installed with apt
(``poppler-utils``; ``gmt gmt-gshhg-low gmt-dcw ghostscript``).
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from . import _common as C
from .sources_files import Candidate, spread, stem

LOGGER = logging.getLogger("rayrot.data.sources")

_PAGES_PER_PDF = 6
_PDF_DPI = 100

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
        for pdf in spread(pdfs, n_pdfs):
            n = _pdf_pages(pdf)
            if n == 0:
                continue
            chosen = spread(list(range(1, n + 1)), pages)
            for page in chosen:
                yield Candidate(category, f.name, f"{stem(pdf, f.root)}_p{page}",
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
