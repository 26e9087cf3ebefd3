"""The drawing context: a page canvas, its palette and the helpers every renderer draws with."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .assets import SynthAssets, _Family, _cmap, _drawable, _font
from .scripts import _COMPLEX, _RTL
from .text import _Text, _pick_script

__all__ = []


# Drawing context
# ----------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    rng: np.random.Generator
    assets: SynthAssets
    im: Image.Image
    draw: ImageDraw.ImageDraw
    script: str
    text: _Text
    body: _Family
    head: _Family
    mono: _Family
    latin: _Family
    ink: tuple
    accent: tuple
    paper: tuple
    wcache: dict = field(default_factory=dict)  # (font id, stroke, text) -> width px

    @property
    def rtl(self) -> bool:
        return self.script in _RTL

    @property
    def complex(self) -> bool:
        return self.script in _COMPLEX

    def font(self, size: int, style: str = "regular", fam: _Family | None = None):
        fam = fam or self.body
        face, fake_bold = fam.face(style)
        cx = self.complex and fam is not self.latin and fam is not self.mono
        return _font(face, size, cx), (max(1, int(size) // 18) if fake_bold and size >= 12 else 0)

    def width(self, s: str, font) -> float:
        f, stroke = font
        if f.layout_engine != ImageFont.Layout.BASIC or stroke:
            s = _drawable(f, s)
        if f.layout_engine == ImageFont.Layout.BASIC:
            return _basic_width(f, s) + 2 * stroke
        key = (id(f), stroke, s)
        v = self.wcache.get(key)
        if v is None:
            if self.rtl:
                v = f.getlength(s, direction="rtl") + 2 * stroke
            else:
                v = f.getlength(s) + 2 * stroke
            self.wcache[key] = v
        return v

    def put(self, xy, s: str, font, fill=None, rtl: bool | None = None):
        """Draw one line (logical order) with its left edge at ``xy[0]`` and top at ``xy[1]``."""
        f, stroke = font
        fill = self.ink if fill is None else fill
        rtl = self.rtl if rtl is None else rtl
        if f.layout_engine != ImageFont.Layout.BASIC or stroke:
            s = _drawable(f, s)
        kw = {}
        if rtl:
            if f.layout_engine == ImageFont.Layout.RAQM:
                kw["direction"] = "rtl"
            else:
                s = s[::-1]
        if not stroke and f.layout_engine == ImageFont.Layout.BASIC:
            _basic_draw(self.im, xy, s, f, fill)
            return
        if stroke:
            kw.update(stroke_width=stroke, stroke_fill=fill)
        self.draw.text((xy[0], xy[1]), s, font=f, fill=fill, **kw)


class _GlyphSet:
    """Rasterised glyphs of one font at one size, cached per process.

    PIL re-rasterises every glyph of every ``ImageDraw.text`` call, which is slow for
    hinted TrueType fonts; simple (unshaped) text is drawn from these masks instead,
    pixel-identical to ``ImageDraw.text`` with the basic layout engine.
    """

    __slots__ = ("font", "ascent", "adv", "glyphs")

    def __init__(self, f: ImageFont.FreeTypeFont):
        self.font = f
        self.ascent = f.getmetrics()[0]
        self.adv: dict = {}  # char -> advance, px
        self.glyphs: dict = {}  # char -> (mask core or None, left, top, width, height)

    def add(self, c: str) -> None:
        f = self.font
        cov = _cmap(f)
        if cov and ord(c) not in cov and c != " ":  # would be a missing-glyph box: skip it
            self.adv[c] = 0.0
            self.glyphs[c] = (None, 0, 0, 0, 0)
            return
        self.adv[c] = f.getlength(c)
        l, t, r, b = f.getbbox(c, anchor="ls")
        core = None
        if r > l and b > t:
            m = Image.new("L", (r - l, b - t), 0)
            ImageDraw.Draw(m).text((-l, -t), c, font=f, fill=255, anchor="ls")
            m.load()
            core = m.im
            _GLYPH_BYTES[0] += (r - l) * (b - t) + 200
        self.glyphs[c] = (core, l, t, r - l, b - t)


_GLYPH_SETS: dict = {}  # (path, index, size) -> _GlyphSet
_GLYPH_BUDGET_BYTES = 96 * 2 ** 20  # glyph masks cached per process before a reset
_GLYPH_BYTES = [0]


_GLYPH_MAX_SETS = 256  # least recently used (font, size) glyph sets are dropped beyond this


def _glyph_set(f: ImageFont.FreeTypeFont) -> _GlyphSet:
    key = (f.path, f.index, f.size)
    g = _GLYPH_SETS.pop(key, None)
    if g is None:
        if _GLYPH_BYTES[0] > _GLYPH_BUDGET_BYTES:
            _GLYPH_SETS.clear()
            _GLYPH_BYTES[0] = 0
        while len(_GLYPH_SETS) >= _GLYPH_MAX_SETS:
            _GLYPH_SETS.pop(next(iter(_GLYPH_SETS)))
        g = _GlyphSet(f)
    _GLYPH_SETS[key] = g  # most recently used last
    return g


def _basic_width(f: ImageFont.FreeTypeFont, s: str) -> float:
    gs = _glyph_set(f)
    try:
        return sum(map(gs.adv.__getitem__, s))
    except KeyError:
        for c in set(s):
            if c not in gs.adv:
                gs.add(c)
        return sum(map(gs.adv.__getitem__, s))


def _basic_draw(im: Image.Image, xy, s: str, f: ImageFont.FreeTypeFont, fill) -> None:
    """Draw ``s`` like ``ImageDraw.text(xy, s, anchor="la")`` from cached glyph masks."""
    gs = _glyph_set(f)
    x, yb = float(xy[0]), float(xy[1]) + gs.ascent
    W, H = im.size
    if yb < -4 * f.size or yb > H + 4 * f.size:
        return
    im.load()
    core = im.im
    glyphs, adv = gs.glyphs, gs.adv
    fill = tuple(fill) if not isinstance(fill, int) else fill
    for c in s:
        g = glyphs.get(c)
        if g is None:
            gs.add(c)
            g = glyphs[c]
        m, l, t, w, h = g
        if m is not None:
            x0, y0 = int(round(x + l)), int(round(yb + t))
            if -w < x0 < W and -h < y0 < H:
                core.paste(fill, (x0, y0, x0 + w, y0 + h), m)
        x += adv[c]


def _pick_families(rng, assets: SynthAssets, script: str):
    def pick(fams, prefer_mono=None):
        if prefer_mono is not None:
            sub = [f for f in fams if f.mono == prefer_mono]
            fams = sub or fams
        return fams[int(rng.integers(len(fams)))]

    fams = assets.families.get(script) or assets.families.get("latin")
    if not fams:
        raise RuntimeError("no fonts available for synthetic rendering")
    latin_fams = assets.families.get("latin") or fams
    body = pick(fams, prefer_mono=False if rng.random() < 0.95 else None)
    head = body if rng.random() < 0.5 else pick(fams, prefer_mono=False)
    mono = pick(latin_fams, prefer_mono=True)
    latin = body if script == "latin" else pick(latin_fams, prefer_mono=False)
    return body, head, mono, latin


def _paper_colour(rng) -> tuple:
    r = rng.random()
    if r < 0.45:
        return (255, 255, 255)
    if r < 0.70:
        v = rng.integers(238, 256)
        return (int(v), int(v), int(max(0, v - rng.integers(0, 6))))
    if r < 0.87:  # yellowed / aged
        base = rng.uniform(220, 250)
        return (int(base), int(base - rng.uniform(4, 18)), int(base - rng.uniform(15, 45)))
    hue = rng.uniform(0, 1, 3)  # light colour
    c = 255 - (hue / hue.max()) * rng.uniform(8, 45)
    return tuple(int(v) for v in c)


def _ink_colour(rng) -> tuple:
    r = rng.random()
    if r < 0.75:
        v = int(rng.integers(0, 45))
        return (v, v, v)
    if r < 0.87:
        return (int(rng.integers(0, 30)), int(rng.integers(10, 40)), int(rng.integers(60, 120)))
    return (int(rng.integers(40, 80)), int(rng.integers(25, 50)), int(rng.integers(10, 35)))


def _accent_colour(rng) -> tuple:
    palette = [(20, 50, 120), (140, 20, 20), (20, 100, 60), (90, 30, 110), (200, 90, 0),
               (0, 90, 140), (60, 60, 60), (0, 0, 0)]
    return palette[int(rng.integers(len(palette)))]


def _make_ctx(rng, assets, size_wh, script=None, paper=None) -> _Ctx:
    script = script or _pick_script(rng, assets)
    if not assets.families.get(script):
        script = "latin"
    body, head, mono, latin = _pick_families(rng, assets, script)
    paper = paper or _paper_colour(rng)
    im = Image.new("RGB", size_wh, paper)
    return _Ctx(rng, assets, im, ImageDraw.Draw(im), script, _Text(rng, assets, script),
                body, head, mono, latin, _ink_colour(rng), _accent_colour(rng), paper)
