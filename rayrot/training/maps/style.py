"""Random map styles: fonts, palettes, colour ramps, and the look of one sample.

:class:`Fonts` picks Latin-script font files from a folder (falls back to PIL's default);
``political_colours`` / ``ramp`` give flat-fill and sequential/diverging colours;
:func:`random_look` draws the paper, ink, water and line colours of one map.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import ImageFont

# font files that cannot draw Latin place names (script-specific faces)
_NON_LATIN = ("Arabic", "Naskh", "Armenian", "Bengali", "Devanagari", "Ethiopic", "Georgian",
              "Gurmukhi", "Hebrew", "Amiri", "CJK", "Thai", "Tamil", "Khmer", "Lao", "Kannada",
              "Malayalam", "Telugu", "Sinhala", "Myanmar", "Gujarati", "Oriya", "Tibetan",
              "Symbol", "Emoji", "Math", "Music", "Dingbat", "Fallback", "Breip", "Humor")
_SYSTEM_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
                "/usr/share/fonts/truetype/noto", "/usr/share/fonts/opentype")


class Fonts:
    def __init__(self, fonts_dir: Path | None):
        files: list[Path] = []
        dirs = [Path(fonts_dir)] if fonts_dir else []
        dirs += [Path(d) for d in _SYSTEM_DIRS]
        for d in dirs:
            if d.is_dir():
                files += [f for f in sorted(d.rglob("*")) if f.suffix.lower() in (".ttf", ".otf")
                          and not any(b.lower() in f.name.lower() for b in _NON_LATIN)]
            if files and d == dirs[0]:
                break
        ok = []
        for f in files:
            try:
                ImageFont.truetype(str(f), 12).getbbox("Abg")
                ok.append(str(f))
            except Exception:
                pass
        self.files = ok
        self.sans = [f for f in ok if any(s in f for s in ("Sans", "Cabin", "Cantarell",
                                                          "Liberation", "Roboto", "Open"))] or ok

    def pick(self, rng: np.random.Generator, sans_bias: float = 0.6) -> str | None:
        if not self.files:
            return None
        pool = self.sans if rng.random() < sans_bias else self.files
        return pool[int(rng.integers(len(pool)))]


@lru_cache(maxsize=512)
def font(path: str | None, size: int):
    size = max(6, int(size))
    if path is None:
        try:
            return ImageFont.load_default(size)
        except TypeError:
            return ImageFont.load_default()
    return ImageFont.truetype(path, size)


def hsv(h, s, v) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return int(r * 255), int(g * 255), int(b * 255)


def political_colours(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    """``n`` flat fills in one of a few political-map schemes."""
    scheme = rng.integers(4)
    if scheme == 0:      # pastel, evenly spread hues
        base = rng.random()
        return [hsv(base + 0.618 * i, rng.uniform(0.18, 0.42), rng.uniform(0.86, 1.0))
                for i in range(n)]
    if scheme == 1:      # a small fixed palette repeated (4-6 colours, like atlas maps)
        k = int(rng.integers(4, 7))
        base = rng.random()
        pal = [hsv(base + i / k, rng.uniform(0.25, 0.6), rng.uniform(0.8, 1.0)) for i in range(k)]
        return [pal[int(rng.integers(k))] for _ in range(n)]
    if scheme == 2:      # saturated
        return [hsv(rng.random(), rng.uniform(0.45, 0.85), rng.uniform(0.65, 0.95))
                for _ in range(n)]
    # muted earth tones
    return [hsv(rng.uniform(0.05, 0.35), rng.uniform(0.15, 0.45), rng.uniform(0.7, 0.95))
            for _ in range(n)]


_RAMPS = {
    "YlOrRd": [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)],
    "Blues": [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)],
    "Greens": [(247, 252, 245), (199, 233, 192), (116, 196, 118), (35, 139, 69), (0, 68, 27)],
    "Purples": [(252, 251, 253), (218, 218, 235), (158, 154, 200), (106, 81, 163), (63, 0, 125)],
    "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
    "magma": [(0, 0, 4), (81, 18, 124), (183, 55, 121), (252, 137, 97), (252, 253, 191)],
    "RdBu": [(178, 24, 43), (239, 138, 98), (247, 247, 247), (103, 169, 207), (33, 102, 172)],
    "BrBG": [(140, 81, 10), (216, 179, 101), (245, 245, 245), (90, 180, 172), (1, 102, 94)],
    "Spectral": [(213, 62, 79), (252, 141, 89), (254, 224, 139), (153, 213, 148), (50, 136, 189)],
    "grey": [(245, 245, 245), (180, 180, 180), (110, 110, 110), (40, 40, 40)],
    # GIS-style colour tables for local rasters
    "elevation": [(0, 191, 191), (0, 255, 0), (255, 255, 0), (255, 127, 0), (191, 127, 63),
                  (60, 40, 30)],
    "srtm": [(57, 151, 105), (117, 194, 93), (230, 230, 128), (202, 158, 75), (214, 187, 98),
             (185, 154, 100), (220, 220, 220)],
    "rainbow": [(255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255),
                (255, 0, 255)],
    "bcyr": [(0, 0, 255), (0, 255, 255), (255, 255, 0), (255, 0, 0)],
    "byr": [(0, 0, 255), (255, 255, 0), (255, 0, 0)],
    "ndvi": [(120, 80, 40), (210, 180, 110), (240, 240, 150), (120, 200, 80), (0, 110, 30)],
    "sepia": [(255, 255, 255), (230, 215, 190), (170, 130, 90), (80, 50, 30)],
}
# hypsometric tints: (elevation fraction, colour)
HYPSO = {
    "classic": [(0.0, (90, 150, 80)), (0.15, (150, 190, 100)), (0.35, (230, 220, 140)),
                (0.6, (190, 140, 80)), (0.85, (140, 100, 80)), (1.0, (250, 250, 250))],
    "atlas": [(0.0, (110, 170, 110)), (0.2, (200, 220, 150)), (0.45, (240, 210, 150)),
              (0.7, (210, 160, 110)), (1.0, (160, 90, 60))],
    "terrain": [(0.0, (0, 150, 100)), (0.25, (120, 200, 110)), (0.5, (240, 240, 150)),
                (0.75, (160, 120, 90)), (1.0, (255, 255, 255))],
    "grey": [(0.0, (230, 230, 230)), (1.0, (60, 60, 60))],
}


def ramp(name: str, t: np.ndarray) -> np.ndarray:
    """Colours (..., 3) uint8 for ``t`` in [0, 1] along a named ramp or hypsometric tint."""
    if name in HYPSO:
        stops = HYPSO[name]
        xs = np.array([s[0] for s in stops])
        cs = np.array([s[1] for s in stops], float)
    else:
        cs = np.array(_RAMPS[name], float)
        xs = np.linspace(0, 1, len(cs))
    t = np.clip(np.asarray(t, float), 0, 1)
    out = np.stack([np.interp(t, xs, cs[:, c]) for c in range(3)], -1)
    return out.astype(np.uint8)


def random_ramp(rng: np.random.Generator, reverse_ok=True) -> tuple[str, bool]:
    names = list(_RAMPS)
    return names[int(rng.integers(len(names)))], bool(reverse_ok and rng.random() < 0.2)


@dataclass
class Look:
    paper: tuple            # margin / page colour
    sea: tuple              # water fill
    land: tuple             # neutral land fill
    ink: tuple              # text and frame colour
    border: tuple           # polygon edge colour
    border_w: int
    water_line: tuple
    font: str | None
    font2: str | None


def random_look(rng: np.random.Generator, fonts: Fonts, scale: float = 1.0) -> Look:
    r = rng.random()
    if r < 0.45:
        paper = (255, 255, 255)
    elif r < 0.75:
        paper = hsv(rng.uniform(0.08, 0.15), rng.uniform(0.05, 0.2), rng.uniform(0.9, 1.0))
    else:
        paper = hsv(rng.random(), rng.uniform(0, 0.08), rng.uniform(0.88, 1.0))
    sr = rng.random()
    if sr < 0.5:
        sea = hsv(rng.uniform(0.53, 0.6), rng.uniform(0.12, 0.4), rng.uniform(0.85, 1.0))
    elif sr < 0.75:
        sea = paper
    else:
        sea = hsv(rng.uniform(0.55, 0.62), rng.uniform(0.3, 0.7), rng.uniform(0.55, 0.85))
    land = hsv(rng.uniform(0.05, 0.3), rng.uniform(0.0, 0.25), rng.uniform(0.82, 0.98))
    ink = hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.0, 0.3))
    br = rng.random()
    border = (ink if br < 0.4 else (255, 255, 255) if br < 0.6
              else hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.3, 0.6)))
    return Look(paper, sea, land, ink, border, max(1, int(round(rng.uniform(0.6, 2.2) * scale))),
                hsv(rng.uniform(0.55, 0.62), rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9)),
                fonts.pick(rng), fonts.pick(rng, 0.3))
