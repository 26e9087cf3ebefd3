"""SynthAssets: the fonts (by script) and text passages the renderers draw with, loaded once and picklable."""

from __future__ import annotations

import logging
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ImageFont

from .scripts import (SCRIPTS, _ALIASES, _FALLBACK_TEXT, _FONT_SUFFIXES, _HAS_RAQM, _SAMPLE_CHARS,
                      _SYSTEM_FONT_DIRS)

__all__ = ["SynthAssets"]

LOGGER = logging.getLogger(__name__)


# Assets
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Face:
    path: str  # absolute font file
    index: int  # face index inside a .ttc collection
    family: str
    style: str  # "regular" | "bold" | "italic" | "bolditalic"
    mono: bool


@dataclass
class _Family:
    name: str
    mono: bool
    styles: dict = field(default_factory=dict)  # style -> _Face

    def face(self, style: str) -> tuple[_Face, bool]:
        """The face for ``style`` and whether it must be emboldened by a stroke."""
        if style in self.styles:
            return self.styles[style], False
        if style == "bolditalic" and "bold" in self.styles:
            return self.styles["bold"], False
        if style in ("bold", "bolditalic"):
            return self.styles.get("regular", next(iter(self.styles.values()))), True
        return self.styles.get("regular", next(iter(self.styles.values()))), False


@dataclass
class SynthAssets:
    """Fonts grouped by script and family, and text lines by script; load once per process.

    Attributes
    ----------
    families : dict[str, list[_Family]]  script -> font families that cover it
    text : dict[str, list[str]]  script -> passages (one per line of ``<script>.txt``)
    """

    families: dict
    text: dict

    @classmethod
    def load(cls, fonts_dir=None, text_dir=None) -> "SynthAssets":
        """Read ``fonts_dir`` (fonts.json or a scan) and ``text_dir/<script>.txt``.

        Falls back to the system fonts when ``fonts_dir`` is missing or holds no usable
        font, and to a small built-in corpus for scripts without a text file.
        """
        faces = []
        if fonts_dir is not None and Path(fonts_dir).is_dir():
            faces = _faces_from_dir(Path(fonts_dir))
        if not any("latin" in s for _, s in faces):
            LOGGER.info("no usable fonts in %s; scanning the system fonts", fonts_dir)
            seen = {f.path for f, _ in faces}
            for d in _SYSTEM_FONT_DIRS:
                if Path(d).is_dir():
                    faces += [fs for fs in _scan_fonts(Path(d)) if fs[0].path not in seen]
        families: dict[str, dict[str, _Family]] = {}
        faces = [fs for fs in faces if _opens(fs[0])]
        for face, scripts in sorted(faces, key=lambda fs: (fs[0].path, fs[0].index)):
            for script in scripts:
                fam = families.setdefault(script, {}).setdefault(
                    face.family, _Family(face.family, face.mono))
                fam.styles.setdefault(face.style, face)
        fams = {s: [d[k] for k in sorted(d)] for s, d in sorted(families.items())}
        text = {s: list(v) for s, v in _FALLBACK_TEXT.items()}
        if text_dir is not None and Path(text_dir).is_dir():
            for p in sorted(Path(text_dir).glob("*.txt")):
                script = _norm_script(p.stem)
                if script is None:
                    continue
                lines = [ln.strip() for ln in p.read_text(encoding="utf-8", errors="ignore")
                         .splitlines() if len(ln.strip()) >= 2]
                if lines:
                    text[script] = lines
        return cls(fams, text)

    @property
    def scripts(self) -> tuple[str, ...]:
        """Scripts with at least one font, in :data:`SCRIPTS` order."""
        return tuple(s for s in SCRIPTS if self.families.get(s))


def _opens(face: _Face) -> bool:
    """Whether FreeType can open the face (skips broken or half-copied files)."""
    try:
        ImageFont.truetype(face.path, 12, index=face.index).getbbox("Ag")
        return True
    except (OSError, ValueError) as exc:
        LOGGER.info("skipping font %s#%d: %s", face.path, face.index, exc)
        return False


def _norm_script(name: str) -> str | None:
    n = str(name).strip().lower().replace("_", "-")
    if n in SCRIPTS:
        return n
    return _ALIASES.get(n, _ALIASES.get(n.split("-")[0]))


def _norm_style(style: str) -> str:
    s = str(style).lower()
    bold = any(w in s for w in ("bold", "black", "heavy", "semibold", "demi"))
    italic = "italic" in s or "oblique" in s
    return {(0, 0): "regular", (1, 0): "bold", (0, 1): "italic", (1, 1): "bolditalic"}[
        (bold, italic)]


_SYMBOL_WORDS = ("symbol", "dingbat", "d050000l", "wingding", "webding", "emoji", "math",
                 "icon", "awesome", "ornament")


_MONO_WORDS = ("mono", "code", "courier", "inconsolata", "anonymous", "consol", "typewriter",
               "fixed")


def _is_symbol_family(family: str) -> bool:
    """Fonts whose cmap claims letters but draws pictures (dingbats, symbols, math)."""
    f = family.lower()
    return any(w in f for w in _SYMBOL_WORDS)


def _faces_from_dir(d: Path) -> list:
    manifest = d / "fonts.json"
    if not manifest.is_file():
        return _scan_fonts(d)
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        LOGGER.warning("cannot read %s (%s); scanning %s instead", manifest, exc, d)
        return _scan_fonts(d)
    if isinstance(entries, dict):
        entries = entries.get("fonts", list(entries.values()))
    out = []
    for e in entries:
        if not isinstance(e, dict) or "file" not in e:
            continue
        path = Path(e["file"])
        path = path if path.is_absolute() else d / path
        if not path.is_file():
            continue
        scripts = {_norm_script(s) for s in e.get("scripts", [])} - {None}
        if not scripts:
            continue
        family = str(e.get("family", path.stem))
        if _is_symbol_family(family):
            continue
        mono = bool(e.get("mono", any(w in family.lower() for w in _MONO_WORDS)))
        face = _Face(str(path.resolve()), int(e.get("index", 0)), family,
                     _norm_style(e.get("style", "regular")), mono)
        out.append((face, frozenset(scripts)))
    return out


def _scan_fonts(d: Path) -> list:
    """Every font file under ``d`` with the scripts its cmap covers (needs fontTools)."""
    try:
        from fontTools.ttLib import TTCollection, TTFont
    except ImportError:  # pragma: no cover - fonttools is in the dev/training extra
        LOGGER.warning("fontTools is not installed: cannot scan %s", d)
        return []
    out = []
    for path in sorted(p for p in d.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES):
        try:
            if path.suffix.lower() in (".ttc", ".otc"):
                fonts = list(TTCollection(str(path), lazy=True).fonts)
            else:
                fonts = [TTFont(str(path), lazy=True)]
        except Exception as exc:  # noqa: BLE001 - a broken font file is skipped
            LOGGER.info("skipping font %s: %s", path, exc)
            continue
        for index, font in enumerate(fonts):
            try:
                cmap = font.getBestCmap() or {}
                name = font["name"]
                family = str(name.getDebugName(16) or name.getDebugName(1) or path.stem)
                sub = str(name.getDebugName(17) or name.getDebugName(2) or "regular")
                mono = (bool(font["post"].isFixedPitch) if "post" in font else False) or any(
                    w in family.lower() for w in _MONO_WORDS)
                weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
            except Exception as exc:  # noqa: BLE001
                LOGGER.info("skipping font %s#%d: %s", path, index, exc)
                continue
            if _is_symbol_family(family):
                continue
            style = _norm_style(sub)
            if weight >= 600 and "bold" not in style:
                style = "bolditalic" if style == "italic" else "bold"
            if weight < 300 and style == "regular":
                continue  # hairline faces are too thin to be typical body text
            scripts = frozenset(
                s for s, chars in _SAMPLE_CHARS.items()
                if sum(ord(c) in cmap for c in chars) >= 0.9 * len(chars))
            if scripts:
                out.append((_Face(str(path.resolve()), index, family, style, mono), scripts))
    return out


_FONT_CACHE: dict = {}
_CMAPS: dict = {}  # (path, index) -> frozenset of mapped code points (empty = unknown)


def _cmap(f: ImageFont.FreeTypeFont) -> frozenset:
    """Code points the font maps, read once per process with fontTools."""
    key = (f.path, f.index)
    cov = _CMAPS.get(key)
    if cov is None:
        try:
            from fontTools.ttLib import TTFont

            cov = frozenset((TTFont(f.path, fontNumber=f.index, lazy=True).getBestCmap()
                             or {}).keys())
        except Exception:  # noqa: BLE001 - no fontTools or an odd font: draw everything
            cov = frozenset()
        _CMAPS[key] = cov
    return cov


# Font sizes in px: exact up to 20 px, then ~6 % steps, so glyph caches are reused.
_SIZE_LADDER = [min(range(4, 401), key=lambda v: abs(v - s)) if s <= 20 else
                int(round(20 * 1.06 ** round(math.log(s / 20) / math.log(1.06))))
                for s in range(401)]


def _font(face: _Face, size: int, complex_script: bool = False) -> ImageFont.FreeTypeFont:
    """A cached FreeType font (per process; assets stay picklable)."""
    size = _SIZE_LADDER[int(max(4, min(400, size)))]
    engine = (ImageFont.Layout.RAQM if (complex_script and _HAS_RAQM)
              else ImageFont.Layout.BASIC)
    key = (face.path, face.index, size, engine)
    f = _FONT_CACHE.get(key)
    if f is None:
        while len(_FONT_CACHE) >= 256:  # drop the oldest fonts
            _FONT_CACHE.pop(next(iter(_FONT_CACHE)))
        try:
            f = ImageFont.truetype(face.path, size, index=face.index, layout_engine=engine)
        except OSError as exc:  # the file vanished or broke after loading: keep rendering
            LOGGER.warning("cannot open font %s (%s); using PIL's default font", face.path, exc)
            f = ImageFont.load_default(size)
        _FONT_CACHE[key] = f
    return f


def _drawable(f: ImageFont.FreeTypeFont, s: str) -> str:
    """``s`` without the characters the font would draw as a missing-glyph box."""
    cov = _cmap(f)
    if not cov:
        return s
    return "".join(c for c in s if ord(c) in cov or c in " \n")
