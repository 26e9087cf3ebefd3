"""Synthetic *upright* training images: documents, maps and textures.

The training data pipeline samples crops from what these functions render, turns
them by ``k * 90`` degrees and labels them ``k`` (see :mod:`rayrot.preprocess`).
Everything rendered here is upright (label 0), including pages tilted by a small
skew of up to +-15 degrees; textures have no up at all (their label is uniform).

All functions are plain, deterministic given the ``numpy.random.Generator`` they
receive, render at the final resolution with PIL, and return ``(H, W, 3)`` uint8
RGB arrays::

    assets = SynthAssets.load(".data/fonts", ".data/text")
    rng = np.random.default_rng(0)
    page = render_document(rng, assets)              # (H, W, 3) uint8
    chart = render_map(rng, assets, size_px=(768, 1024))
    cells = render_texture(rng)
    any_kind = render_sample(rng, assets, "document")

``size_px`` is ``(height, width)`` in pixels, like the returned array's shape; when
``None`` a kind-specific random size with a long side of roughly 640-1300 px is used.

Fonts come from ``fonts_dir`` (``fonts.json`` with ``file, family, style, scripts``
entries, or, without it, every ``.ttf/.otf/.ttc`` found there, its scripts guessed
from its cmap with fontTools); when that holds no usable font, the fonts installed
on the system are used. Text comes from ``text_dir/<script>.txt`` (one passage a
line); scripts without a file fall back to a small built-in sample.

Run ``python -m rayrot.training.synth --out /tmp/synth_preview --n 12`` to save
previews.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, features

__all__ = [
    "KINDS",
    "SCRIPTS",
    "SynthAssets",
    "render_document",
    "render_map",
    "render_texture",
    "render_sample",
]

LOGGER = logging.getLogger(__name__)

KINDS = ("document", "map", "texture")

# Script -> share of rendered documents/maps (renormalised over the scripts that have fonts).
SCRIPTS = {
    "latin": 0.50,
    "cyrillic": 0.08,
    "greek": 0.04,
    "arabic": 0.06,
    "hebrew": 0.04,
    "devanagari": 0.05,
    "bengali": 0.03,
    "thai": 0.03,
    "chinese": 0.07,
    "japanese": 0.06,
    "korean": 0.04,
}

_RTL = frozenset({"arabic", "hebrew"})
_COMPLEX = frozenset({"arabic", "hebrew", "devanagari", "bengali", "thai"})
_NO_SPACES = frozenset({"chinese", "japanese", "thai"})
_CJK = frozenset({"chinese", "japanese", "korean"})

# Characters a font must map (90 %) to be used for a script.
_SAMPLE_CHARS = {
    "latin": "AaBbCcDdEeFfGgHhRrSsTtYyZz0123456789",
    "cyrillic": "АБВГДЕЖЗИЙКЛМНабвгдежзийклмнпрсяюэ",
    "greek": "ΑΒΓΔΕΖΗΘΛΠΣΩαβγδεζηθλμπσω",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "अआइउएकखगघचजटडतथदधनपबमयरलवसह",
    "bengali": "অআইউএকখগঘচছজটডতথদধনপবমযরলসহ",
    "thai": "กขคงจฉชซญดตถทนบปผพฟมยรลวสหอ",
    "chinese": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "japanese": "あいうえおかきくけこさしすせそアイウエオカキクケコ日本語",
    "korean": "가나다라마바사아자차카타파하한국어는을의에",
}

_ALIASES = {
    "latn": "latin", "en": "latin", "english": "latin", "lat": "latin",
    "cyrl": "cyrillic", "ru": "cyrillic", "russian": "cyrillic",
    "grek": "greek", "el": "greek",
    "arab": "arabic", "ar": "arabic",
    "hebr": "hebrew", "he": "hebrew",
    "deva": "devanagari", "hi": "devanagari", "hindi": "devanagari",
    "beng": "bengali", "bn": "bengali", "bangla": "bengali",
    "thai": "thai", "th": "thai",
    "han": "chinese", "hani": "chinese", "hans": "chinese", "hant": "chinese", "zh": "chinese",
    "cjk": "chinese", "chinese": "chinese", "zh-hans": "chinese", "zh-hant": "chinese",
    "jpan": "japanese", "ja": "japanese", "kana": "japanese", "hiragana": "japanese",
    "katakana": "japanese",
    "kore": "korean", "ko": "korean", "hang": "korean", "hangul": "korean",
}

_HAS_RAQM = features.check("raqm")

# A small fallback corpus, used for scripts without a text file.
_FALLBACK_TEXT = {
    "latin": [
        "The committee met on Tuesday to review the annual budget and the proposed changes to the "
        "regional transport plan, which had been delayed by several months.",
        "In this section we describe the experimental setup, the data collection procedure and the "
        "statistical methods used to analyse the results of each trial.",
        "Water levels in the northern reservoirs remained below average throughout the summer, "
        "prompting new restrictions on irrigation and industrial use.",
        "Les résultats obtenus montrent une amélioration nette de la précision, en particulier pour "
        "les échantillons de petite taille et les conditions de faible éclairage.",
        "Die Ergebnisse der Untersuchung zeigen, dass die Verfahren auch bei großen Datenmengen "
        "zuverlässig und schnell arbeiten, sofern genügend Speicher vorhanden ist.",
        "El informe anual presenta los principales indicadores económicos de la región y compara su "
        "evolución con la de los cinco años anteriores.",
        "Please read the following instructions carefully before completing the form. All fields "
        "marked with an asterisk are required and must be filled in capital letters.",
        "A new species of beetle was described from specimens collected in the mountain forests, "
        "where it lives under the bark of fallen trees at high altitude.",
        "Il progetto prevede la costruzione di un nuovo ponte sul fiume e il rifacimento delle "
        "strade di accesso entro la fine del prossimo anno.",
        "Our customers can return any product within thirty days of purchase, provided that it is "
        "unused and in its original packaging, together with the receipt.",
    ],
    "cyrillic": [
        "Заседание комиссии состоялось во вторник, на нём обсуждался годовой бюджет и изменения в "
        "региональном плане развития транспорта.",
        "В этом разделе описаны условия эксперимента, порядок сбора данных и статистические методы "
        "анализа результатов каждого испытания.",
        "Уровень воды в северных водохранилищах оставался ниже среднего в течение всего лета, что "
        "привело к новым ограничениям на полив.",
        "Пожалуйста, внимательно прочитайте инструкцию перед заполнением анкеты и укажите все "
        "обязательные сведения печатными буквами.",
    ],
    "greek": [
        "Η επιτροπή συνεδρίασε την Τρίτη για να εξετάσει τον ετήσιο προϋπολογισμό και τις "
        "προτεινόμενες αλλαγές στο περιφερειακό σχέδιο μεταφορών.",
        "Σε αυτή την ενότητα περιγράφουμε την πειραματική διάταξη, τη διαδικασία συλλογής "
        "δεδομένων και τις στατιστικές μεθόδους ανάλυσης.",
        "Η στάθμη του νερού στους βόρειους ταμιευτήρες παρέμεινε χαμηλή όλο το καλοκαίρι.",
    ],
    "arabic": [
        "اجتمعت اللجنة يوم الثلاثاء لمراجعة الميزانية السنوية والتغييرات المقترحة على خطة النقل "
        "الإقليمية التي تأخرت عدة أشهر.",
        "في هذا القسم نصف الإعداد التجريبي وإجراءات جمع البيانات والطرق الإحصائية المستخدمة في "
        "تحليل نتائج كل تجربة.",
        "بقيت مستويات المياه في الخزانات الشمالية أقل من المتوسط طوال فصل الصيف مما أدى إلى قيود "
        "جديدة على الري.",
        "يرجى قراءة التعليمات التالية بعناية قبل ملء الاستمارة وكتابة جميع البيانات المطلوبة.",
    ],
    "hebrew": [
        "הוועדה התכנסה ביום שלישי כדי לדון בתקציב השנתי ובשינויים המוצעים בתוכנית התחבורה "
        "האזורית שהתעכבה במשך כמה חודשים.",
        "בפרק זה אנו מתארים את מערך הניסוי, את אופן איסוף הנתונים ואת השיטות הסטטיסטיות "
        "ששימשו לניתוח התוצאות.",
        "מפלס המים במאגרים הצפוניים נותר נמוך מהממוצע לאורך כל הקיץ.",
    ],
    "devanagari": [
        "समिति ने मंगलवार को वार्षिक बजट और क्षेत्रीय परिवहन योजना में प्रस्तावित परिवर्तनों की समीक्षा करने "
        "के लिए बैठक की।",
        "इस खंड में हम प्रयोग की व्यवस्था, आंकड़े एकत्र करने की प्रक्रिया और परिणामों के विश्लेषण की "
        "सांख्यिकीय विधियों का वर्णन करते हैं।",
        "उत्तरी जलाशयों में जल स्तर पूरी गर्मी औसत से नीचे रहा जिससे सिंचाई पर नए प्रतिबंध लगाए गए।",
    ],
    "bengali": [
        "কমিটি মঙ্গলবার বার্ষিক বাজেট এবং আঞ্চলিক পরিবহন পরিকল্পনার প্রস্তাবিত পরিবর্তনগুলি পর্যালোচনা "
        "করতে বৈঠকে বসে।",
        "এই অংশে আমরা পরীক্ষার ব্যবস্থা, তথ্য সংগ্রহের পদ্ধতি এবং ফলাফল বিশ্লেষণের পরিসংখ্যান "
        "পদ্ধতি বর্ণনা করি।",
    ],
    "thai": [
        "คณะกรรมการประชุมกันในวันอังคารเพื่อพิจารณางบประมาณประจำปีและการเปลี่ยนแปลงแผนการขนส่ง"
        "ระดับภูมิภาค",
        "ในส่วนนี้เราอธิบายการตั้งค่าการทดลอง ขั้นตอนการเก็บรวบรวมข้อมูล และวิธีการทางสถิติที่ใช้"
        "ในการวิเคราะห์ผล",
        "ระดับน้ำในอ่างเก็บน้ำทางภาคเหนือยังคงต่ำกว่าค่าเฉลี่ยตลอดฤดูร้อน",
    ],
    "chinese": [
        "委员会于星期二召开会议，审议年度预算以及对区域交通规划提出的修改意见，该规划已推迟数月。",
        "本节介绍实验装置、数据收集程序以及用于分析每次试验结果的统计方法。",
        "整个夏季北部水库的水位一直低于平均水平，因此对灌溉和工业用水实行了新的限制。",
        "请在填写表格之前仔细阅读以下说明，所有标有星号的项目均为必填项。",
    ],
    "japanese": [
        "委員会は火曜日に会合を開き、年間予算と地域交通計画の変更案について審議した。",
        "この節では、実験の構成、データの収集手順、そして結果の分析に用いた統計的手法について説明する。",
        "北部の貯水池の水位は夏の間ずっと平年を下回り、農業用水の使用が制限されることになった。",
        "申込書に記入する前に、以下の注意事項をよくお読みください。",
    ],
    "korean": [
        "위원회는 화요일에 회의를 열어 연간 예산과 지역 교통 계획의 변경안을 검토하였다.",
        "이 절에서는 실험 구성, 자료 수집 절차 및 각 시험 결과를 분석하는 데 사용한 통계 방법을 "
        "설명한다.",
        "북부 저수지의 수위는 여름 내내 평균보다 낮게 유지되어 새로운 급수 제한이 시행되었다.",
    ],
}

_SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")


# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------------------------


def _pick_script(rng, assets: SynthAssets) -> str:
    scripts = [s for s in assets.scripts]
    if not scripts:
        return "latin"
    p = np.array([SCRIPTS[s] for s in scripts], float)
    return scripts[int(rng.choice(len(scripts), p=p / p.sum()))]


class _Text:
    """Text of one script drawn from the assets."""

    def __init__(self, rng, assets: SynthAssets, script: str):
        self.rng = rng
        self.script = script
        self.lines = assets.text.get(script) or _FALLBACK_TEXT["latin"]
        self.spaces = script not in _NO_SPACES

    def passage(self, nchars: int) -> str:
        rng, lines = self.rng, self.lines
        i = int(rng.integers(len(lines)))
        parts, n = [], 0
        first = lines[i]
        if len(first) > 40 and rng.random() < 0.7:  # start at a word/sentence boundary inside
            if self.spaces:
                cuts = [k + 1 for k, c in enumerate(first) if c == " "]
                if cuts:
                    first = first[cuts[int(rng.integers(len(cuts)))]:] or first
            else:
                cl = _clusters(first)
                first = "".join(cl[int(rng.integers(len(cl) // 2)):])
        for k in range(200):
            s = first if k == 0 else lines[(i + k) % len(lines)]
            parts.append(s)
            n += len(s)
            if n >= nchars:
                break
        text = (" " if self.spaces else "").join(parts)
        if len(text) > nchars * 1.3:
            cut = text.rfind(" ", 0, nchars) if self.spaces else nchars
            text = text[: max(cut, nchars // 2)]
        return text

    def words(self, n: int) -> str:
        """About ``n`` words (``2n`` characters for unspaced scripts), no end punctuation."""
        if self.spaces:
            ws = self.passage(n * 12 + 20).split()
            k = int(self.rng.integers(0, max(1, len(ws) - n)))
            s = " ".join(ws[k:k + n])
        else:
            cl = _clusters(self.passage(n * 3))
            k = int(self.rng.integers(0, max(1, len(cl) - 2 * n)))
            s = "".join(cl[k:k + 2 * n])
        return s.strip(" .,;:،。、，!?") or "Text"

    def title(self, n: int) -> str:
        s = self.words(n)
        if self.script in ("latin", "cyrillic", "greek") and self.rng.random() < 0.5:
            s = " ".join(w[:1].upper() + w[1:] for w in s.split())
        elif self.script in ("latin", "cyrillic", "greek") and self.rng.random() < 0.2:
            s = s.upper()
        else:
            s = s[:1].upper() + s[1:]
        return s


def _number(rng, kind: str | None = None) -> str:
    kind = kind or ("int", "float", "pct", "money", "sci", "date")[int(rng.integers(6))]
    if kind == "int":
        return f"{int(rng.integers(0, 10 ** int(rng.integers(1, 6)))):,}".replace(
            ",", "," if rng.random() < 0.7 else " ")
    if kind == "float":
        return f"{rng.normal(0, 10 ** rng.uniform(0, 3)):.{int(rng.integers(1, 4))}f}"
    if kind == "pct":
        return f"{rng.uniform(0, 100):.1f}%"
    if kind == "money":
        return f"{rng.choice(['$', '€', '£', ''])}{rng.uniform(0, 2000):,.2f}"
    if kind == "sci":
        return f"{rng.uniform(1, 10):.2f}e{int(rng.integers(-9, 9))}"
    return (f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/"
            f"{int(rng.integers(1950, 2030))}")


def _clusters(s: str) -> list[str]:
    """Characters with their combining marks attached (for breaking unspaced text)."""
    out = []
    for c in s:
        if out and (unicodedata.category(c) in ("Mn", "Mc", "Me") or c in "\u200c\u200d"):
            out[-1] += c
        else:
            out.append(c)
    return out


# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Text layout
# ----------------------------------------------------------------------------------------------


def _wrap(ctx: _Ctx, text: str, font, width: float, first_indent: float = 0.0) -> list[str]:
    """Greedy line breaking; returns lines in logical order."""
    sep = " " if ctx.text.spaces else ""
    tokens = text.split() if ctx.text.spaces else _clusters(text)
    if not tokens:
        return []
    cache: dict = {}

    def w(t):
        v = cache.get(t)
        if v is None:
            v = cache[t] = ctx.width(t, font)
        return v

    space = ctx.width(" ", font) if sep else 0.0
    lines, cur, cur_w, avail = [], [], 0.0, width - first_indent
    for t in tokens:
        tw = w(t)
        add = tw + (space if cur else 0.0)
        if cur and cur_w + add > avail:
            lines.append(sep.join(cur))
            cur, cur_w, avail = [t], tw, width
        else:
            cur.append(t)
            cur_w += add
    if cur:
        lines.append(sep.join(cur))
    return lines


def _draw_paragraph(ctx: _Ctx, x0, y, width, bottom, text, font, size, leading, align="left",
                    indent=0.0, fill=None) -> float:
    """Lay out ``text`` in the box; returns the y below the last drawn line."""
    lines = _wrap(ctx, text, font, width, indent)
    lh = size * leading
    rtl = ctx.rtl
    for i, line in enumerate(lines):
        if y + size * 1.1 > bottom:
            break
        ind = indent if i == 0 else 0.0
        last = i == len(lines) - 1
        if align == "justify" and not last and ctx.text.spaces and not ctx.complex \
                and line.count(" ") >= 2:
            words = line.split(" ")
            ws = [ctx.width(wd, font) for wd in words]
            gap = (width - ind - sum(ws)) / (len(words) - 1)
            if gap < size * 1.2:
                x = x0 + ind
                for wd, ww in zip(words, ws):
                    ctx.put((x, y), wd, font, fill)
                    x += ww + gap
                y += lh
                continue
        lw = ctx.width(line, font)
        if align == "center":
            x = x0 + (width - lw) / 2
        elif align == "right" or (rtl and align in ("left", "justify")):
            x = x0 + width - lw - ind
        else:
            x = x0 + ind
        ctx.put((x, y), line, font, fill)
        y += lh
    return y


# ----------------------------------------------------------------------------------------------
# Document blocks. Each takes (ctx, st, x0, y, w, bottom) and returns the new y.
# ----------------------------------------------------------------------------------------------


@dataclass
class _Style:
    size: int  # body font size, px
    leading: float  # line pitch / font size
    align: str
    para_gap: float  # px
    indent: float  # px, first-line indent
    head_scale: float
    numbered_heads: bool
    fig_no: int = 0
    tab_no: int = 0
    eq_no: int = 0
    sec_no: int = 0


def _block_paragraph(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    n = int(rng.integers(80, 700))
    style = "italic" if rng.random() < 0.06 else "regular"
    return _draw_paragraph(ctx, x0, y, w, bottom, ctx.text.passage(n), ctx.font(st.size, style),
                           st.size, st.leading, st.align, st.indent) + st.para_gap


def _block_heading(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    st.sec_no += 1
    size = int(st.size * st.head_scale * rng.uniform(0.9, 1.2))
    txt = ctx.text.title(int(rng.integers(1, 7)))
    if st.numbered_heads:
        sub = int(rng.integers(0, 4))
        txt = f"{st.sec_no}.{sub} {txt}" if sub and not ctx.rtl else f"{st.sec_no} {txt}"
    y += st.size * rng.uniform(0.3, 1.2)
    fill = ctx.accent if rng.random() < 0.3 else ctx.ink
    style = "bold" if rng.random() < 0.8 else "italic"
    y = _draw_paragraph(ctx, x0, y, w, bottom, txt, ctx.font(size, style, ctx.head), size, 1.2,
                        "center" if rng.random() < 0.15 else "left", fill=fill)
    if rng.random() < 0.15:
        ctx.draw.line([(x0, y), (x0 + w, y)], fill=fill, width=max(1, size // 14))
    return y + st.size * rng.uniform(0.2, 0.8)


def _block_list(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    kind = int(rng.integers(5))
    bullets = ["•", "–", "▪", "◦", "*"]
    bullet = bullets[int(rng.integers(len(bullets)))]
    font = ctx.font(st.size)
    ind = st.size * rng.uniform(1.2, 2.5)
    for i in range(int(rng.integers(2, 8))):
        if y + st.size > bottom:
            break
        mark = (f"{i + 1}." if kind == 1 else f"{chr(97 + i)})" if kind == 2 else
                f"({i + 1})" if kind == 3 else bullet)
        mfont = ctx.font(st.size, fam=ctx.latin)
        if ctx.rtl:
            ctx.put((x0 + w - ind * 0.8, y), mark, mfont, rtl=False)
            y = _draw_paragraph(ctx, x0, y, w - ind, bottom,
                                ctx.text.passage(int(rng.integers(20, 200))), font, st.size,
                                st.leading, "right")
        else:
            ctx.put((x0 + ind * 0.25, y), mark, mfont)
            y = _draw_paragraph(ctx, x0 + ind, y, w - ind, bottom,
                                ctx.text.passage(int(rng.integers(20, 200))), font, st.size,
                                st.leading, "left")
        y += st.size * rng.uniform(0, 0.5)
    return y + st.para_gap


def _block_table(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    ncol = int(rng.integers(2, 8))
    nrow = int(rng.integers(3, 18))
    rh = size * rng.uniform(1.4, 2.0)
    need = rh * (nrow + 2)
    if y + rh * 4 > bottom:
        return bottom
    nrow = min(nrow, int((bottom - y) / rh) - 2)
    st.tab_no += 1
    cap_font = ctx.font(size, "bold" if rng.random() < 0.5 else "regular")
    if rng.random() < 0.7:
        cap = f"Table {st.tab_no}. " if ctx.script == "latin" else f"{st.tab_no}. "
        y = _draw_paragraph(ctx, x0, y, w, bottom, cap + ctx.text.words(int(rng.integers(3, 12))),
                            cap_font, size, 1.2, "left") + size * 0.3
    tw = w * rng.uniform(0.6, 1.0)
    tx = x0 + (w - tw) / 2
    first = tw * rng.uniform(0.2, 0.45)
    colw = [first] + [(tw - first) / (ncol - 1)] * (ncol - 1) if ncol > 1 else [tw]
    style = ("booktabs", "grid", "zebra", "plain")[int(rng.integers(4))]
    lw = max(1, size // 12)
    hfont = ctx.font(size, "bold")
    bfont = ctx.font(size)
    nfont = ctx.font(size, fam=ctx.latin)
    numkind = [("int", "float", "pct", "money")[int(rng.integers(4))] for _ in range(ncol)]
    top = y
    if style in ("booktabs", "grid"):
        ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw * 2)
    for r in range(nrow + 1):
        if style == "zebra" and r % 2 == 1:
            g = tuple(max(0, c - 18) for c in ctx.paper)
            ctx.draw.rectangle([tx, y, tx + tw, y + rh], fill=g)
        if style == "zebra" and r == 0:
            ctx.draw.rectangle([tx, y, tx + tw, y + rh], fill=ctx.accent)
        cx = tx
        for c in range(ncol):
            pad = size * 0.3
            if r == 0:
                s = ctx.text.words(int(rng.integers(1, 3)))
                f = hfont
                fill = ctx.paper if style == "zebra" else ctx.ink
            elif c == 0:
                s, f, fill = ctx.text.words(int(rng.integers(1, 4))), bfont, ctx.ink
            else:
                s, f, fill = _number(rng, numkind[c]), nfont, ctx.ink
            maxw = colw[c] - 2 * pad
            while len(s) > 1 and ctx.width(s, f) > maxw:
                s = s[: max(1, int(len(s) * 0.8))]
            sw = ctx.width(s, f)
            numeric = r > 0 and c > 0
            if numeric or (ctx.rtl and f is not nfont):
                xx = cx + colw[c] - pad - sw
            else:
                xx = cx + pad
            ctx.put((xx, y + (rh - size) / 2), s, f, fill, rtl=ctx.rtl and not numeric)
            cx += colw[c]
        y += rh
        if r == 0 and style in ("booktabs", "grid"):
            ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw)
        elif style == "grid":
            ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw)
    if style in ("booktabs", "grid"):
        ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw * 2)
    if style == "grid":
        cx = tx
        for c in range(ncol + 1):
            ctx.draw.line([(cx, top), (cx, y)], fill=ctx.ink, width=lw)
            cx += colw[c] if c < ncol else 0
    del need
    return y + st.para_gap + size


def _smooth_noise(rng, h: int, w: int, cells: int, channels: int = 1) -> np.ndarray:
    """Smooth random field in [0, 1], (h, w, channels) float32, from an upsampled grid."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    out = np.empty((h, w, channels), np.float32)
    for c in range(channels):
        g = Image.fromarray(rng.random((gh, gw), dtype=np.float32), "F")
        out[..., c] = np.asarray(g.resize((w, h), Image.BICUBIC))
    return np.clip(out, 0, 1)


def _photo_like(rng, w: int, h: int) -> Image.Image:
    """A blurry photograph-like colour patch (sky above ground, blobs)."""
    w, h = max(4, int(w)), max(4, int(h))
    base = _smooth_noise(rng, h, w, int(rng.integers(3, 9)), 3)
    fine = _smooth_noise(rng, h, w, int(rng.integers(12, 40)), 1)
    pal = rng.uniform(30, 230, (2, 3)).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if rng.random() < 0.6:  # sky/ground split: a natural upright cue
        hz = rng.uniform(0.3, 0.7)
        sky = np.array([rng.uniform(120, 200), rng.uniform(160, 220), rng.uniform(200, 255)],
                       np.float32)
        grad = np.where(t < hz, sky * (0.8 + 0.2 * t / hz), pal[1] * (0.6 + 0.4 * base))
    else:
        grad = pal[0] * (1 - base) + pal[1] * base
    img = grad * (0.75 + 0.5 * fine)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def _text_box(ctx, s, font, fill, angle=0):
    """Render a line into a small RGBA image (for rotated labels)."""
    f = font[0]
    l, t, r, b = f.getbbox(s)
    im = Image.new("L", (int(r - l) + 4, int(b - t) + 4), 0)
    ImageDraw.Draw(im).text((2 - l, 2 - t), s, font=f, fill=255)
    if angle:
        im = im.rotate(angle, expand=True)
    col = Image.new("RGB", im.size, fill)
    return col, im


def _block_figure(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    fw = w * rng.uniform(0.55, 1.0)
    fh = min(fw * rng.uniform(0.45, 0.9), bottom - y - st.size * 3)
    if fh < st.size * 8:
        return _block_paragraph(ctx, st, x0, y, w, bottom)
    fx = x0 + (w - fw) / 2
    kind = rng.choice(["plot", "plot", "bars", "photo", "diagram"])
    if kind in ("plot", "bars"):
        _draw_plot(ctx, fx, y, fw, fh, st.size, bars=kind == "bars")
    elif kind == "photo":
        ctx.im.paste(_photo_like(rng, fw, fh), (int(fx), int(y)))
        if rng.random() < 0.5:
            ctx.draw.rectangle([fx, y, fx + fw, y + fh], outline=ctx.ink, width=1)
    else:
        _draw_diagram(ctx, fx, y, fw, fh, st.size)
    y += fh + st.size * 0.6
    st.fig_no += 1
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    cap = (f"Figure {st.fig_no}: " if ctx.script == "latin" and rng.random() < 0.7
           else f"Fig. {st.fig_no}. ")
    if ctx.script != "latin":
        cap = f"{st.fig_no}. "
    y = _draw_paragraph(ctx, x0, y, w, bottom, cap + ctx.text.passage(int(rng.integers(20, 160))),
                        ctx.font(size, "italic" if rng.random() < 0.4 else "regular"), size,
                        1.2, "center" if rng.random() < 0.4 else "left")
    return y + st.para_gap + st.size


def _nice_ticks(lo, hi, n):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 and len(ticks) < 12:
        ticks.append(v)
        v += step
    return ticks, step


def _fmt_tick(v, step):
    if step >= 1:
        return f"{v:.0f}"
    d = max(0, -int(math.floor(math.log10(step))))
    return f"{v:.{d}f}"


def _draw_plot(ctx, fx, fy, fw, fh, size, bars=False):
    rng, d = ctx.rng, ctx.draw
    ts = max(8, int(size * rng.uniform(0.7, 1.0)))
    tf = ctx.font(ts, fam=ctx.latin)
    left, bottom_pad = ts * 3.6, ts * 2.8
    ax0, ay0 = fx + left, fy + ts * 0.6
    ax1, ay1 = fx + fw - ts * 0.8, fy + fh - bottom_pad
    if ax1 - ax0 < 30 or ay1 - ay0 < 30:
        return
    axis = ctx.ink
    xlo, xhi = 0.0, float(10 ** rng.uniform(0, 3))
    xt, xs = _nice_ticks(xlo, xhi, int(rng.integers(4, 8)))
    n = int(rng.integers(1, 5))
    xs_ = np.linspace(xlo, xhi, 60)
    curves = []
    for _ in range(n):
        a = rng.normal(0, 1, 4)
        yv = a[0] + a[1] * xs_ / xhi + a[2] * np.sin(xs_ / xhi * rng.uniform(2, 12) + a[3])
        curves.append(yv)
    ylo = min(c.min() for c in curves)
    yhi = max(c.max() for c in curves)
    if bars:
        ylo = 0.0
        yhi = max(yhi - min(c.min() for c in curves), 1e-3) * 1.1
    yt, ys = _nice_ticks(ylo, yhi + 1e-6, int(rng.integers(4, 7)))
    ylo, yhi = min(ylo, yt[0]), max(yhi, yt[-1])

    def X(v):
        return ax0 + (v - xlo) / (xhi - xlo) * (ax1 - ax0)

    def Y(v):
        return ay1 - (v - ylo) / (yhi - ylo) * (ay1 - ay0)

    grid = rng.random() < 0.4
    box = rng.random() < 0.5
    for v in yt:
        yy = Y(v)
        if grid:
            d.line([(ax0, yy), (ax1, yy)], fill=(200, 200, 200), width=1)
        d.line([(ax0 - ts * 0.4, yy), (ax0, yy)], fill=axis, width=1)
        s = _fmt_tick(v, ys)
        d.text((ax0 - ts * 0.6 - tf[0].getlength(s), yy - ts * 0.6), s, font=tf[0], fill=axis)
    for v in xt:
        xx = X(v)
        if grid:
            d.line([(xx, ay0), (xx, ay1)], fill=(200, 200, 200), width=1)
        d.line([(xx, ay1), (xx, ay1 + ts * 0.4)], fill=axis, width=1)
        s = _fmt_tick(v, xs)
        d.text((xx - tf[0].getlength(s) / 2, ay1 + ts * 0.5), s, font=tf[0], fill=axis)
    cols = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (0, 0, 0), (90, 90, 90)]
    if rng.random() < 0.25:
        cols = [(0, 0, 0), (80, 80, 80), (140, 140, 140), (40, 40, 40)]
    if bars:
        c0 = curves[0] - min(c.min() for c in curves)
        k = int(rng.integers(4, 16))
        bw = (ax1 - ax0) / k
        for i in range(k):
            v = c0[int(i * len(c0) / k)]
            d.rectangle([ax0 + i * bw + bw * 0.15, Y(v), ax0 + (i + 1) * bw - bw * 0.15, ay1],
                        fill=cols[i % 2 if rng.random() < 0.1 else 0], outline=axis)
    else:
        scatter = rng.random() < 0.3
        for i, c in enumerate(curves):
            pts = [(X(a), Y(b)) for a, b in zip(xs_, c)]
            col = cols[i % len(cols)]
            if scatter and i == 0:
                r = max(1.5, ts * 0.2)
                for (px, py) in pts[::2]:
                    py += rng.normal(0, (ay1 - ay0) * 0.03)
                    d.ellipse([px - r, py - r, px + r, py + r], fill=col)
            else:
                d.line(pts, fill=col, width=int(rng.integers(1, 3)))
        if n > 1 and rng.random() < 0.6:  # legend
            lx, ly = ax1 - ts * 8, ay0 + ts * 0.5
            for i in range(n):
                d.line([(lx, ly + ts * 0.6), (lx + ts * 1.5, ly + ts * 0.6)],
                       fill=cols[i % len(cols)], width=2)
                d.text((lx + ts * 2, ly), ctx.text.words(1)[:10] if rng.random() < 0.5 else
                       f"n={int(rng.integers(1, 100))}",
                       font=ctx.font(ts)[0] if ctx.script not in _COMPLEX else tf[0],
                       fill=axis)
                ly += ts * 1.3
    d.line([(ax0, ay0), (ax0, ay1), (ax1, ay1)], fill=axis, width=1)
    if box:
        d.line([(ax0, ay0), (ax1, ay0), (ax1, ay1)], fill=axis, width=1)
    # axis labels: x below, y rotated (reads bottom to top, as in print)
    lab = ctx.text.words(int(rng.integers(1, 3)))
    lf = ctx.font(ts)
    if ctx.script not in _COMPLEX:
        lw_ = ctx.width(lab, lf)
        ctx.put(((ax0 + ax1 - lw_) / 2, ay1 + ts * 1.6), lab, lf)
        col, mask = _text_box(ctx, ctx.text.words(1)[:14], lf, ctx.ink, angle=90)
        ctx.im.paste(col, (int(fx), int((ay0 + ay1 - mask.size[1]) / 2)), mask)


def _draw_diagram(ctx, fx, fy, fw, fh, size):
    rng, d = ctx.rng, ctx.draw
    n = int(rng.integers(2, 6))
    bw = fw / (n * 1.6)
    bh = min(fh * 0.35, size * 3.5)
    rows = 1 if rng.random() < 0.6 else 2
    font = ctx.font(max(8, int(size * 0.9)))
    centers = []
    for r in range(rows):
        cy = fy + fh * (r + 0.5) / rows
        for i in range(n):
            cx = fx + fw * (i + 0.5) / n
            fill = None if rng.random() < 0.5 else tuple(
                int(v) for v in rng.uniform(190, 250, 3))
            box = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]
            if rng.random() < 0.3:
                d.ellipse(box, outline=ctx.ink, fill=fill, width=1)
            else:
                d.rectangle(box, outline=ctx.ink, fill=fill, width=1)
            s = ctx.text.words(1)
            while len(s) > 1 and ctx.width(s, font) > bw * 0.9:
                s = s[:-1]
            ctx.put((cx - ctx.width(s, font) / 2, cy - size * 0.55), s, font)
            centers.append((cx, cy))
            if i:
                px = centers[-2][0] + bw / 2
                d.line([(px, cy), (cx - bw / 2, cy)], fill=ctx.ink, width=1)
                ah = size * 0.4
                d.polygon([(cx - bw / 2, cy), (cx - bw / 2 - ah, cy - ah / 2),
                           (cx - bw / 2 - ah, cy + ah / 2)], fill=ctx.ink)


_MATH_VARS = "xyzabcnkt"
_MATH_GREEK = "αβγδεθλμσφωπ"


def _block_equation(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = st.size
    if y + size * 3 > bottom:
        return bottom
    f = ctx.font(size, fam=ctx.latin)
    fi = ctx.font(size, "italic", fam=ctx.latin)
    fs = ctx.font(max(7, int(size * 0.7)), fam=ctx.latin)
    # a list of (kind, text) items: 't' text, 's' superscript, 'f' fraction (num, den)
    items = []
    lhs = rng.choice(list("fgEFLPVu")) + f"({rng.choice(list(_MATH_VARS))})"
    items.append(("i", lhs))
    items.append(("t", " = "))
    for k in range(int(rng.integers(1, 5))):
        if k:
            items.append(("t", f" {rng.choice(['+', '−', '·', '×', '≤', '≈'])} "))
        r = rng.random()
        if r < 0.3:
            items.append(("f", (f"{rng.choice(list(_MATH_GREEK))}{rng.choice(list(_MATH_VARS))}",
                                f"{int(rng.integers(2, 20))}{rng.choice(list(_MATH_VARS))}")))
        elif r < 0.5:
            items.append(("t", f"{rng.choice(['∑', '∫', '∏', '√'])}"))
            items.append(("i", f"{rng.choice(list(_MATH_VARS))}"))
            items.append(("s", f"{int(rng.integers(2, 5))}"))
        elif r < 0.8:
            items.append(("i", f"{rng.choice(list(_MATH_GREEK + _MATH_VARS))}"))
            items.append(("s", f"{rng.choice(['2', 'n', 'k', '−1', 'T'])}"))
        else:
            items.append(("t", f"{rng.uniform(0, 10):.{int(rng.integers(0, 3))}f}"))
    widths = []
    for kind, t in items:
        if kind == "f":
            widths.append(max(ctx.width(t[0], fs), ctx.width(t[1], fs)) + size * 0.3)
        else:
            widths.append(ctx.width(t, fs if kind == "s" else f))
    total = sum(widths)
    x = x0 + (w - total) / 2 if rng.random() < 0.8 else x0 + size * 2
    yb = y + size * 0.8
    for (kind, t), wd in zip(items, widths):
        if kind == "t":
            ctx.put((x, yb), t, f, rtl=False)
        elif kind == "i":
            ctx.put((x, yb), t, fi, rtl=False)
        elif kind == "s":
            ctx.put((x, yb - size * 0.35), t, fs, rtl=False)
        else:
            mid = yb + size * 0.6
            ctx.put((x + (wd - ctx.width(t[0], fs)) / 2, mid - size * 0.95), t[0], fs, rtl=False)
            ctx.draw.line([(x, mid), (x + wd, mid)], fill=ctx.ink, width=max(1, size // 16))
            ctx.put((x + (wd - ctx.width(t[1], fs)) / 2, mid + size * 0.1), t[1], fs, rtl=False)
        x += wd
    if rng.random() < 0.6:
        st.eq_no += 1
        s = f"({st.eq_no})"
        ctx.put((x0 + w - ctx.width(s, f), yb), s, f, rtl=False)
    return y + size * 3.2


_CODE = [
    "def {a}({b}, {c}=None):", "    return {b} + {n}", "for (int i = 0; i < {n}; i++) {{",
    "    {a}[i] = {b}(i) * {n};", "}}", "if {a} is not None and {b} > {n}:",
    "    {a}.append({b})", "import {a}", "from {a} import {b}", "class {A}({B}):",
    "    self.{a} = {b}", "# {a} {b} {c}", "{a} = [{n}, {m}, {n}]", "print(f\"{{{a}}}\")",
    "while ({a} != NULL) {{", "    {a} = {a}->{b};", "let {a} = {b}.map(|x| x * {n});",
    "SELECT {a}, {b} FROM {c} WHERE {a} > {n};", "#include <{a}.h>", "    // {a} {b}",
    "$ {a} --{b} {n} {c}.txt", "const {a} = require('{b}');",
]
_IDENT = ["data", "value", "result", "count", "node", "items", "buffer", "config", "path", "x",
          "idx", "total", "name", "tmp", "out", "self", "args", "size", "key", "line"]


def _code_lines(rng, n):
    out = []
    for _ in range(n):
        t = _CODE[int(rng.integers(len(_CODE)))]
        pick = [_IDENT[int(i)] for i in rng.integers(0, len(_IDENT), 3)]
        out.append(t.format(a=pick[0], b=pick[1], c=pick[2], A=pick[0].title(),
                            B=pick[1].title(), n=int(rng.integers(0, 100)),
                            m=int(rng.integers(0, 1000))))
    return out


def _block_code(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    f = ctx.font(size, fam=ctx.mono)
    n = int(min(rng.integers(3, 16), (bottom - y) / (size * 1.3) - 1))
    if n < 2:
        return bottom
    lh = size * 1.3
    if rng.random() < 0.6:
        g = tuple(max(0, c - int(rng.integers(8, 25))) for c in ctx.paper)
        ctx.draw.rectangle([x0, y, x0 + w, y + lh * n + size], fill=g,
                           outline=ctx.ink if rng.random() < 0.3 else None)
    numbers = rng.random() < 0.3
    for i, line in enumerate(_code_lines(rng, n)):
        x = x0 + size * 0.5
        if numbers:
            ctx.put((x, y + size * 0.5), f"{i + 1:>3}", f, (120, 120, 120), rtl=False)
            x += size * 2.5
        while len(line) > 2 and ctx.width(line, f) > x0 + w - x:
            line = line[:-2]
        ctx.put((x, y + size * 0.5), line, f, rtl=False)
        y += lh
    return y + size + st.para_gap


def _block_form(ctx, st, x0, y, w, bottom):
    rng, d = ctx.rng, ctx.draw
    size = st.size
    f = ctx.font(size)
    fb = ctx.font(size, "bold")
    for _ in range(int(rng.integers(2, 9))):
        if y + size * 2.5 > bottom:
            break
        kind = rng.choice(["line", "box", "check", "comb"])
        label = ctx.text.words(int(rng.integers(1, 4))) + ("" if ctx.rtl else ":")
        lw = ctx.width(label, f)
        if kind == "line":
            if ctx.rtl:
                ctx.put((x0 + w - lw, y), label, f)
                d.line([(x0, y + size * 1.1), (x0 + w - lw - size, y + size * 1.1)],
                       fill=ctx.ink, width=1)
            else:
                ctx.put((x0, y), label, f)
                if rng.random() < 0.5:
                    d.line([(x0 + lw + size * 0.5, y + size * 1.1), (x0 + w, y + size * 1.1)],
                           fill=ctx.ink, width=1)
                else:
                    dots = "_" * max(3, int((w - lw - size) / max(1, ctx.width("_", f))))
                    ctx.put((x0 + lw + size * 0.4, y), dots, f)
            y += size * 2.0
        elif kind == "box":
            bh = size * rng.uniform(2.2, 4)
            d.rectangle([x0, y, x0 + w, y + bh], outline=ctx.ink, width=1)
            sf = ctx.font(max(7, int(size * 0.7)))
            ctx.put((x0 + size * 0.3 if not ctx.rtl else x0 + w - ctx.width(label, sf) - size * 0.3,
                     y + size * 0.2), label, sf)
            y += bh + size * 0.6
        elif kind == "check":
            x = x0
            for _ in range(int(rng.integers(2, 5))):
                s = ctx.text.words(int(rng.integers(1, 3)))
                sw = ctx.width(s, f)
                if x + sw + size * 2 > x0 + w:
                    break
                d.rectangle([x, y + size * 0.15, x + size * 0.9, y + size * 1.05],
                            outline=ctx.ink, width=1)
                if rng.random() < 0.3:
                    d.line([(x + 2, y + size * 0.6), (x + size * 0.4, y + size),
                            (x + size, y)], fill=(20, 20, 120), width=2)
                ctx.put((x + size * 1.3, y), s, f)
                x += sw + size * 2.5
            y += size * 1.9
        else:
            ctx.put((x0, y), label, fb)
            x = x0 + lw + size * 0.6
            cw = size * 1.3
            for i in range(int(rng.integers(4, 14))):
                if x + cw > x0 + w:
                    break
                d.rectangle([x, y - size * 0.2, x + cw, y + size * 1.3], outline=ctx.ink, width=1)
                x += cw + (size * 0.5 if rng.random() < 0.15 else 0)
            y += size * 2.2
    return y + st.para_gap


def _block_footnotes(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(7, int(st.size * 0.78))
    f = ctx.font(size)
    n = int(rng.integers(1, 4))
    h = n * size * 2.6
    top = bottom - h
    if top < y + st.size * 2:
        return y
    ctx.draw.line([(x0 if not ctx.rtl else x0 + w * 0.7, top),
                   (x0 + w * 0.3 if not ctx.rtl else x0 + w, top)], fill=ctx.ink, width=1)
    yy = top + size * 0.5
    for i in range(n):
        mark = f"{i + 1}"
        mf = ctx.font(max(6, int(size * 0.7)), fam=ctx.latin)
        if ctx.rtl:
            ctx.put((x0 + w - size * 0.6, yy), mark, mf, rtl=False)
            yy = _draw_paragraph(ctx, x0, yy, w - size, bottom,
                                 ctx.text.passage(int(rng.integers(30, 160))), f, size, 1.2,
                                 "right")
        else:
            ctx.put((x0, yy), mark, mf)
            yy = _draw_paragraph(ctx, x0 + size, yy, w - size, bottom,
                                 ctx.text.passage(int(rng.integers(30, 160))), f, size, 1.2)
    return top


_BLOCKS = {
    "paragraph": (_block_paragraph, 0.50),
    "heading": (_block_heading, 0.11),
    "list": (_block_list, 0.08),
    "table": (_block_table, 0.07),
    "figure": (_block_figure, 0.08),
    "equation": (_block_equation, 0.05),
    "code": (_block_code, 0.03),
    "form": (_block_form, 0.02),
}


# ----------------------------------------------------------------------------------------------
# Whole pages
# ----------------------------------------------------------------------------------------------


def _body_style(rng, col_w: float, scale: float) -> _Style:
    cpl = rng.uniform(30, 95)  # characters per line
    size = col_w / (cpl * 0.5)
    if rng.random() < 0.2:
        size = rng.uniform(10, 14)  # tiny print (x-height ~ 5-7 px)
    size = int(np.clip(size * scale, 10, 60))
    return _Style(
        size=size,
        leading=float(rng.uniform(1.1, 1.75)),
        align="justify" if rng.random() < 0.55 else "left",
        para_gap=float(size * rng.choice([0.0, 0.3, 0.6, 1.0])),
        indent=float(size * rng.choice([0.0, 0.0, 1.5, 2.5])),
        head_scale=float(rng.uniform(1.1, 1.9)),
        numbered_heads=bool(rng.random() < 0.4),
    )


def _page_furniture(ctx, st, left, right, top, bottom, H):
    """Running header, footer and page number; returns (top, bottom) of the text area."""
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.7, 0.95)))
    f = ctx.font(size, "italic" if rng.random() < 0.4 else "regular")
    nf = ctx.font(size, fam=ctx.latin)
    page_no = str(int(rng.integers(1, 400)))
    if rng.random() < 0.45:
        s = ctx.text.words(int(rng.integers(2, 8)))
        w = ctx.width(s, f)
        pos = rng.integers(3)
        x = left if pos == 0 else right - w if pos == 1 else (left + right - w) / 2
        ctx.put((x, top), s, f)
        if rng.random() < 0.5:
            ctx.put((right - ctx.width(page_no, nf) if pos != 1 else left, top), page_no, nf,
                    rtl=False)
            page_no = None
        if rng.random() < 0.6:
            ctx.draw.line([(left, top + size * 1.5), (right, top + size * 1.5)], fill=ctx.ink,
                          width=1)
        top += size * 3
    if page_no is not None and rng.random() < 0.8:
        s = page_no if rng.random() < 0.8 else f"- {page_no} -"
        w = ctx.width(s, nf)
        pos = rng.integers(3)
        x = (left + right - w) / 2 if pos == 0 else left if pos == 1 else right - w
        yb = min(H - size * 1.5, bottom + size * rng.uniform(0.8, 2.0))
        ctx.put((x, yb), s, nf, rtl=False)
        if rng.random() < 0.3:
            s2 = ctx.text.words(int(rng.integers(2, 6)))
            if pos != 1:
                ctx.put((left, yb), s2, ctx.font(max(7, size - 2)))
    return top, bottom


def _title_block(ctx, st, left, right, y, bottom):
    rng = ctx.rng
    w = right - left
    size = int(st.size * rng.uniform(1.8, 3.2))
    align = "center" if rng.random() < 0.6 else "left"
    y = _draw_paragraph(ctx, left, y, w, bottom, ctx.text.title(int(rng.integers(3, 12))),
                        ctx.font(size, "bold" if rng.random() < 0.7 else "regular", ctx.head),
                        size, 1.15, align, fill=ctx.accent if rng.random() < 0.25 else ctx.ink)
    y += st.size * 0.6
    if rng.random() < 0.7:  # authors / affiliation
        names = ", ".join(ctx.text.title(2) for _ in range(int(rng.integers(1, 4))))
        y = _draw_paragraph(ctx, left, y, w, bottom, names, ctx.font(int(st.size * 1.1)),
                            st.size * 1.1, 1.3, align)
    if rng.random() < 0.5:  # abstract
        y += st.size
        inset = w * rng.uniform(0.05, 0.15)
        asz = max(9, int(st.size * 0.9))
        y = _draw_paragraph(ctx, left + inset, y, w - 2 * inset, bottom,
                            ctx.text.passage(int(rng.integers(200, 700))),
                            ctx.font(asz, "italic" if rng.random() < 0.5 else "regular"), asz,
                            st.leading, "justify")
    return y + st.size * 1.5


def _flow_columns(ctx, st, left, right, top, bottom, ncol, gutter):
    rng = ctx.rng
    names = list(_BLOCKS)
    p = np.array([_BLOCKS[k][1] for k in names])
    p /= p.sum()
    colw = (right - left - gutter * (ncol - 1)) / ncol
    for c in range(ncol):
        x0 = left + c * (colw + gutter) if not ctx.rtl else right - (c + 1) * colw - c * gutter
        y = top
        bot = bottom
        if rng.random() < 0.15 and c == ncol - 1:
            bot = _block_footnotes(ctx, st, x0, y, colw, bottom) - st.size
        if c == 0 and rng.random() < 0.3:
            y = _block_heading(ctx, st, x0, y, colw, bot)
        guard = 0
        while y < bot - st.size * 1.5 and guard < 60:
            guard += 1
            name = names[int(rng.choice(len(names), p=p))]
            y = _BLOCKS[name][0](ctx, st, x0, y, colw, bot)
        if ncol > 1 and rng.random() < 0.2:
            xr = x0 + colw + gutter / 2
            if c < ncol - 1:
                ctx.draw.line([(xr, top), (xr, bottom)], fill=ctx.ink, width=1)


def _doc_article(ctx, W, H):
    rng = ctx.rng
    ml = W * rng.uniform(0.04, 0.14)
    mr = ml if rng.random() < 0.7 else W * rng.uniform(0.04, 0.14)
    mt = H * rng.uniform(0.03, 0.10)
    mb = H * rng.uniform(0.04, 0.10)
    left, right, top, bottom = ml, W - mr, mt, H - mb
    width = right - left
    ncol = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    gutter = width * rng.uniform(0.025, 0.06)
    colw = (width - gutter * (ncol - 1)) / ncol
    st = _body_style(rng, colw, 1.0)
    while ncol > 1 and colw < st.size * 14:
        ncol -= 1
        colw = (width - gutter * (ncol - 1)) / ncol
    top, bottom = _page_furniture(ctx, st, left, right, top, bottom, H)
    if rng.random() < 0.35:
        top = _title_block(ctx, st, left, right, top, bottom)
    _flow_columns(ctx, st, left, right, top, bottom, ncol, gutter)


def _doc_vertical_cjk(ctx, W, H):
    """Japanese/Chinese vertical-rl: columns top to bottom, right to left."""
    rng = ctx.rng
    size = int(np.clip(min(W, H) / rng.uniform(25, 55), 10, 40))
    f = ctx.font(size)
    mx, my = W * rng.uniform(0.05, 0.12), H * rng.uniform(0.05, 0.12)
    pitch = size * rng.uniform(1.4, 2.0)
    x = W - mx - size
    top, bottom = my, H - my
    nchar = max(1, int((bottom - top) / size))
    if rng.random() < 0.5:  # title column
        hf = ctx.font(int(size * 1.6), "bold")
        t = _drawable(hf[0], ctx.text.words(int(rng.integers(3, 8))))[: max(1, int(nchar / 1.6))]
        ctx.draw.multiline_text((x - size * 0.3, top + size), "\n".join(t), font=hf[0],
                                fill=ctx.ink, spacing=0, align="center")
        x -= pitch * 2
    text = ctx.text.passage(int(nchar * (x - mx) / pitch) + 10)
    chars = [c for c in _clusters(_drawable(f[0], text)) if not c.isspace()]
    i = 0
    while x > mx and i < len(chars):
        start = 1 if rng.random() < 0.15 else 0
        col = chars[i: i + nchar - start]
        i += len(col)
        ctx.draw.multiline_text((x, top + start * size), "\n".join(col), font=f[0], fill=ctx.ink,
                                spacing=int(size * 0.08), align="center")
        x -= pitch
    if rng.random() < 0.7:
        s = str(int(rng.integers(1, 300)))
        nf = ctx.font(int(size * 0.8), fam=ctx.latin)
        ctx.put(((W - ctx.width(s, nf)) / 2, H - my * 0.6), s, nf, rtl=False)


def _doc_letter(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    m = W * rng.uniform(0.08, 0.14)
    left, right = m, W - m
    st = _body_style(rng, right - left, 1.0)
    st.size = int(np.clip(st.size, 11, 24))
    y = H * rng.uniform(0.04, 0.08)
    hf = ctx.font(int(st.size * rng.uniform(1.5, 2.5)), "bold", ctx.head)
    name = ctx.text.title(int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        d.rectangle([left, y, left + st.size * 3, y + st.size * 3], fill=ctx.accent)
        ctx.put((left + st.size * 4, y), name, hf, ctx.accent)
    else:
        ctx.put(((W - ctx.width(name, hf)) / 2, y), name, hf, ctx.accent)
    y += st.size * 4
    small = ctx.font(max(8, int(st.size * 0.8)))
    for _ in range(int(rng.integers(1, 4))):
        s = ctx.text.words(int(rng.integers(2, 6))) + "  " + _number(rng, "int")
        ctx.put((right - ctx.width(s, small), y), s, small)
        y += st.size
    d.line([(left, y + st.size * 0.5), (right, y + st.size * 0.5)], fill=ctx.accent, width=2)
    y += st.size * 2
    f = ctx.font(st.size)
    for _ in range(int(rng.integers(2, 5))):  # recipient address
        ctx.put((left if not ctx.rtl else right - ctx.width(s, f), y),
                ctx.text.words(int(rng.integers(2, 5))), f)
        y += st.size * 1.3
    y += st.size
    s = _number(rng, "date")
    ctx.put((right - ctx.width(s, f), y), s, f, rtl=False)
    y += st.size * 2
    bottom = H * 0.85
    for _ in range(int(rng.integers(2, 6))):
        y = _draw_paragraph(ctx, left, y, right - left, bottom,
                            ctx.text.passage(int(rng.integers(100, 500))), f, st.size,
                            st.leading, st.align) + st.size
    if y < H * 0.9:  # signature scribble
        pts = [(left + i * st.size * 0.6, y + st.size + rng.normal(0, st.size * 0.5))
               for i in range(int(rng.integers(6, 14)))]
        d.line(pts, fill=(20, 30, 120), width=2, joint="curve")
        ctx.put((left, y + st.size * 2.5), ctx.text.title(2), f)


def _doc_form(ctx, W, H):
    rng = ctx.rng
    m = W * rng.uniform(0.05, 0.1)
    st = _body_style(rng, W - 2 * m, 1.0)
    st.size = int(np.clip(st.size, 10, 22))
    y = H * 0.04
    y = _title_block(ctx, st, m, W - m, y, H)
    ncol = 1 if rng.random() < 0.6 else 2
    gutter = W * 0.04
    colw = (W - 2 * m - gutter * (ncol - 1)) / ncol
    for c in range(ncol):
        yy = y
        x0 = m + c * (colw + gutter)
        while yy < H * 0.92:
            if rng.random() < 0.2:
                yy = _block_heading(ctx, st, x0, yy, colw, H * 0.95)
            elif rng.random() < 0.15:
                yy = _block_table(ctx, st, x0, yy, colw, H * 0.95)
            elif rng.random() < 0.15:
                yy = _block_paragraph(ctx, st, x0, yy, colw, H * 0.95)
            else:
                yy = _block_form(ctx, st, x0, yy, colw, H * 0.95)


def _doc_slide(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    theme = rng.random()
    if theme < 0.3:  # coloured title bar
        bar = ctx.accent
        bh = H * rng.uniform(0.12, 0.2)
        d.rectangle([0, 0, W, bh], fill=bar)
        title_fill = (255, 255, 255)
    elif theme < 0.45:  # dark background
        d.rectangle([0, 0, W, H], fill=tuple(int(v) for v in rng.integers(10, 60, 3)))
        ctx.ink = (235, 235, 235)
        bh = H * 0.15
        title_fill = (255, 255, 255)
    else:
        bh = H * rng.uniform(0.12, 0.2)
        title_fill = ctx.accent
    m = W * rng.uniform(0.05, 0.09)
    tsize = int(H * rng.uniform(0.05, 0.09))
    tf = ctx.font(tsize, "bold", ctx.head)
    t = ctx.text.title(int(rng.integers(2, 7)))
    _draw_paragraph(ctx, m, max(H * 0.03, (bh - tsize * 1.2) / 2), W - 2 * m, bh + tsize, t, tf,
                    tsize, 1.1, "left", fill=title_fill)
    y = bh + H * 0.05
    size = int(H * rng.uniform(0.03, 0.05))
    f = ctx.font(size)
    right = W - m if rng.random() < 0.6 else W * 0.55
    for i in range(int(rng.integers(2, 7))):
        if y > H * 0.85:
            break
        b = "•" if rng.random() < 0.8 else "–"
        sub = i > 0 and rng.random() < 0.25
        x = m + (size * 1.5 if sub else 0)
        fs = ctx.font(int(size * 0.85)) if sub else f
        bf = ctx.font(int(size * 0.85) if sub else size, fam=ctx.latin)
        if ctx.rtl:
            ctx.put((W - x - size, y), b, bf, rtl=False)
            y = _draw_paragraph(ctx, W - right, y, right - x - size * 1.5, H * 0.9,
                                ctx.text.passage(int(rng.integers(20, 110))), fs, size, 1.2,
                                "right")
        else:
            ctx.put((x, y), b, bf, rtl=False)
            y = _draw_paragraph(ctx, x + size * 1.2, y, right - x - size * 1.2, H * 0.9,
                                ctx.text.passage(int(rng.integers(20, 110))), fs, size, 1.2)
        y += size * 0.6
    if right < W * 0.6:  # figure on the right
        fx, fy, fw, fh = W * 0.6, bh + H * 0.06, W * 0.34, H * 0.55
        if rng.random() < 0.5:
            ctx.im.paste(_photo_like(rng, fw, fh), (int(fx), int(fy)))
        else:
            _draw_plot(ctx, fx, fy, fw, fh, max(10, size // 2), bars=rng.random() < 0.5)
    fsz = max(8, int(H * 0.022))
    s = f"{int(rng.integers(1, 60))}"
    ctx.put((W - m - ctx.width(s, ctx.font(fsz)), H - fsz * 2), s, ctx.font(fsz), rtl=False)
    if rng.random() < 0.5:
        ctx.put((m, H - fsz * 2), ctx.text.words(int(rng.integers(2, 6))), ctx.font(fsz))


def _doc_receipt(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    mono = rng.random() < 0.7
    fam = ctx.mono if mono and ctx.script == "latin" else ctx.body
    size = int(np.clip(W / rng.uniform(22, 38) * (1.6 if mono else 1.3), 9, 40))
    f = ctx.font(size, fam=fam)
    fb = ctx.font(int(size * 1.4), "bold", fam=ctx.body)
    nf = ctx.font(size, fam=ctx.mono if mono else ctx.latin)
    m = W * 0.06
    y = size
    for _ in range(int(rng.integers(1, 3))):
        s = ctx.text.words(int(rng.integers(1, 4)))
        ctx.put(((W - ctx.width(s, fb)) / 2, y), s, fb)
        y += size * 1.8
    for _ in range(int(rng.integers(1, 4))):
        s = ctx.text.words(int(rng.integers(2, 5)))
        ctx.put(((W - ctx.width(s, f)) / 2, y), s, f)
        y += size * 1.3
    dash = "-" * 60
    y += size * 0.5
    while y < H - size * 8:
        r = rng.random()
        if r < 0.1:
            ctx.put((m, y), dash, nf, rtl=False)
        else:
            s = ctx.text.words(int(rng.integers(1, 3)))[:18]
            p = _number(rng, "money").lstrip("$€£")
            pw = ctx.width(p, nf)
            ctx.put((W - m - pw, y), p, nf, rtl=False)
            while len(s) > 1 and ctx.width(s, f) > W - 2 * m - pw - size:
                s = s[:-1]
            ctx.put((m if not ctx.rtl else W - m - pw - size - ctx.width(s, f), y), s, f)
        y += size * 1.3
    ctx.put((m, y), dash, nf, rtl=False)
    y += size * 1.3
    tot = _number(rng, "money")
    ctx.put((m, y), "TOTAL" if ctx.script == "latin" else ctx.text.words(1), fb)
    ctx.put((W - m - ctx.width(tot, fb), y), tot, fb, rtl=False)
    y += size * 2.5
    if rng.random() < 0.7:  # barcode
        x = m * 2
        bh = size * 3
        while x < W - m * 2:
            bw = int(rng.integers(1, 4))
            if rng.random() < 0.55:
                d.rectangle([int(x), int(y), int(x) + bw - 1, int(y + bh)], fill=ctx.ink)
            x += bw
        y += bh + size * 0.3
        s = "".join(str(int(v)) for v in rng.integers(0, 10, 13))
        ctx.put(((W - ctx.width(s, nf)) / 2, y), s, nf, rtl=False)


def _doc_ticket(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    m = min(W, H) * 0.06
    col = ctx.accent
    stub = W * rng.uniform(0.7, 0.8)
    d.rectangle([m * 0.3, m * 0.3, W - m * 0.3, H - m * 0.3], outline=col, width=3)
    for yy in range(int(m), int(H - m), 8):
        d.line([(stub, yy), (stub, yy + 4)], fill=col, width=1)
    if rng.random() < 0.6:
        d.rectangle([m * 0.3, m * 0.3, W - m * 0.3, H * 0.25], fill=col)
        hf = (255, 255, 255)
    else:
        hf = col
    tsz = int(H * rng.uniform(0.09, 0.14))
    ctx.put((m, H * 0.04), ctx.text.title(int(rng.integers(1, 4))), ctx.font(tsz, "bold"), hf)
    y = H * 0.32
    sz = int(H * rng.uniform(0.05, 0.08))
    small = ctx.font(max(8, int(sz * 0.6)))
    big = ctx.font(sz, "bold")
    while y < H - m - sz * 2:
        x = m
        for _ in range(int(rng.integers(2, 4))):
            lab = ctx.text.words(1)
            val = (_number(rng, "date") if rng.random() < 0.3 else
                   f"{rng.choice(list('ABCDEFGH'))}{int(rng.integers(1, 60))}")
            ctx.put((x, y), lab, small, (100, 100, 100))
            ctx.put((x, y + sz * 0.7), val, big, rtl=False)
            x += (stub - m) / 3
        y += sz * 2.2
    x = stub + m * 0.5
    yy = H * 0.3
    while x < W - m and yy < H - m:  # stub barcode, horizontal bars
        h = int(rng.integers(1, 4))
        if rng.random() < 0.55:
            d.rectangle([int(x), int(yy), int(W - m), int(yy) + h - 1], fill=ctx.ink)
        yy += h


def _doc_fragment(ctx, W, H):
    """A few lines, single words or labels on a plain background."""
    rng = ctx.rng
    r = rng.random()
    if r < 0.45:  # a few lines of text
        size = int(np.clip(H / rng.uniform(3, 12), 9, 120))
        m = size * rng.uniform(0.3, 1.5)
        _draw_paragraph(ctx, m, m * 0.5, W - 2 * m, H, ctx.text.passage(int(rng.integers(30, 400))),
                        ctx.font(size, "bold" if rng.random() < 0.2 else "regular"), size,
                        rng.uniform(1.1, 1.6), "left" if rng.random() < 0.8 else "center")
    elif r < 0.7:  # a single word or short phrase, big
        s = ctx.text.words(int(rng.integers(1, 4)))
        size = int(np.clip(H * rng.uniform(0.2, 0.6), 10, 300))
        f = ctx.font(size, "bold" if rng.random() < 0.4 else "regular", ctx.head)
        w = ctx.width(s, f)
        if w > W * 0.95:
            size = max(8, int(size * W * 0.9 / w))
            f = ctx.font(size, "bold" if rng.random() < 0.4 else "regular", ctx.head)
            w = ctx.width(s, f)
        ctx.put(((W - w) / 2 + rng.uniform(-0.2, 0.2) * max(0, W - w), (H - size * 1.2) / 2), s,
                f)
    else:  # labels in boxes scattered
        for _ in range(int(rng.integers(4, 20))):
            size = int(rng.integers(max(10, int(min(W, H) / 14)), max(11, int(min(W, H) / 4))))
            s = ctx.text.words(int(rng.integers(1, 3)))
            f = ctx.font(size, "bold" if rng.random() < 0.3 else "regular")
            w = ctx.width(s, f)
            x, y = rng.uniform(0, max(1, W - w - size)), rng.uniform(0, max(1, H - size * 2))
            if rng.random() < 0.5:
                fill = tuple(int(v) for v in rng.uniform(200, 255, 3))
                ctx.draw.rectangle([x - size * 0.3, y - size * 0.1, x + w + size * 0.3,
                                    y + size * 1.4], fill=fill, outline=ctx.ink)
            ctx.put((x, y), s, f)


_GENRES = {
    "article": 0.50, "letter": 0.06, "form": 0.07, "slide": 0.08, "receipt": 0.06,
    "ticket": 0.04, "fragment": 0.12, "vertical": 0.07,
}


def _genre_size(rng, genre: str) -> tuple[int, int]:
    L = float(rng.uniform(700, 1300))
    if genre == "slide":
        a = rng.choice([16 / 9, 4 / 3, 16 / 10])
        return int(L / a), int(L)
    if genre == "receipt":
        return int(L), int(L / rng.uniform(2.0, 3.5))
    if genre == "ticket":
        return int(L / rng.uniform(2.0, 3.0)), int(L)
    if genre == "fragment":
        L = rng.uniform(300, 1000)
        a = float(np.exp(rng.uniform(np.log(0.4), np.log(5))))
        return (int(L / a), int(L)) if a > 1 else (int(L), int(L * a))
    r = rng.random()
    a = rng.choice([1.414, 1.294, 1.5, 1.333])
    if r < 0.7:  # portrait page
        return int(L), int(L / a)
    if r < 0.85:  # landscape page
        return int(L / a), int(L)
    # slice of a page (the renderer draws a full page, then crops it)
    return int(L), int(L / a)


def render_document(rng: np.random.Generator, assets: SynthAssets,
                    size_px: tuple[int, int] | None = None, *, script: str | None = None,
                    genre: str | None = None) -> np.ndarray:
    """Render one upright document page (or text fragment, slide, receipt...).

    Parameters
    ----------
    rng : numpy Generator, the only source of randomness
    assets : SynthAssets
    size_px : (height, width) in pixels, or None for a random genre-dependent size
    script : one of :data:`SCRIPTS` to force it (else drawn by its share), optional
    genre : one of "article", "letter", "form", "slide", "receipt", "ticket", "fragment",
        "vertical" (CJK top-to-bottom) to force it (else drawn at random), optional

    Returns
    -------
    page : (H, W, 3) uint8 RGB, upright (label 0); may be tilted by up to +-15 degrees
    """
    names = list(_GENRES)
    script = script or _pick_script(rng, assets)
    p = np.array([_GENRES[g] for g in names])
    if script not in ("chinese", "japanese"):
        p[names.index("vertical")] = 0
    if genre is not None and genre not in _GENRES:
        raise ValueError(f"genre must be one of {names}, got {genre!r}")
    genre = genre or names[int(rng.choice(len(names), p=p / p.sum()))]
    H, W = size_px if size_px is not None else _genre_size(rng, genre)
    H, W = max(16, int(H)), max(16, int(W))
    ctx = _make_ctx(rng, assets, (W, H), script)
    {"article": _doc_article, "letter": _doc_letter, "form": _doc_form, "slide": _doc_slide,
     "receipt": _doc_receipt, "ticket": _doc_ticket, "fragment": _doc_fragment,
     "vertical": _doc_vertical_cjk}[genre](ctx, W, H)
    return _degrade_document(rng, ctx.im, ctx.paper)


# ----------------------------------------------------------------------------------------------
# Degradations
# ----------------------------------------------------------------------------------------------


def _noise_field(rng, h: int, w: int, sigma: float, channels: int = 1) -> np.ndarray:
    """Gaussian-ish noise (h, w, channels) int16, from a small tile rolled and repeated."""
    t = 96
    tile = np.round(rng.standard_normal((t, t, channels), dtype=np.float32) * sigma).astype(
        np.int16)
    reps = (h // t + 2, w // t + 2, 1)
    big = np.tile(tile, reps)
    oy, ox = int(rng.integers(t)), int(rng.integers(t))
    return big[oy:oy + h, ox:ox + w]


def _add_noise(rng, a: np.ndarray, sigma: float, colour: bool) -> np.ndarray:
    """Add zero-mean noise with saturation, done by PIL in C (two uint8 planes)."""
    t = 96
    n = np.round(rng.standard_normal((t, t, 3 if colour else 1), dtype=np.float32) * sigma)
    n = np.clip(n, -255, 255)
    if not colour:
        n = np.repeat(n, 3, axis=2)
    h, w = a.shape[:2]
    oy, ox = int(rng.integers(t)), int(rng.integers(t))
    reps = (h // t + 2, w // t + 2, 1)
    pos = np.tile(np.maximum(n, 0).astype(np.uint8), reps)[oy:oy + h, ox:ox + w]
    neg = np.tile(np.maximum(-n, 0).astype(np.uint8), reps)[oy:oy + h, ox:ox + w]

    im = Image.fromarray(np.ascontiguousarray(a))
    im = ImageChops.add(im, Image.fromarray(np.ascontiguousarray(pos)))
    im = ImageChops.subtract(im, Image.fromarray(np.ascontiguousarray(neg)))
    return np.asarray(im)


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _soften(rng, im: Image.Image) -> Image.Image:
    """Blur: a cheap 3x3 kernel for slight softening, a Gaussian for stronger blur."""
    if rng.random() < 0.7:
        c = float(rng.uniform(1.0, 8.0))  # centre weight; smaller = blurrier
        return im.filter(ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4 * c, 2, 1, 2, 1]))
    return im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.6, 1.6))))


def _shading(rng, W: int, H: int) -> Image.Image:
    """A smooth multiplicative illumination field (RGB, 255 = unchanged), built small."""
    s = 32
    yy = np.linspace(-1, 1, s, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, s, dtype=np.float32)[None, :]
    if rng.random() < 0.6:  # a linear gradient in a random direction
        th = rng.uniform(0, 2 * np.pi)
        g = 1 - rng.uniform(0.05, 0.3) * (0.5 + 0.5 * (np.cos(th) * xx + np.sin(th) * yy))
    else:  # vignetting around a random centre
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        g = 1 - rng.uniform(0.05, 0.3) * ((xx - cx) ** 2 + (yy - cy) ** 2) / 2
    g = Image.fromarray(np.clip(g * 255, 0, 255).astype(np.uint8), "L")
    return g.resize((W, H), Image.BILINEAR).convert("RGB")


def _degrade_document(rng, im: Image.Image, paper) -> np.ndarray:
    """Print/scan degradations, all orientation-neutral except the (upright) skew."""

    W, H = im.size
    # bleed-through: the page's own content mirrored left-right, faint and blurred
    if rng.random() < 0.08:
        back = np.asarray(im)[:, ::-1]
        back = np.roll(back, int(rng.integers(-H // 20, H // 20 + 1)), axis=0)
        back = Image.fromarray(np.ascontiguousarray(back)).filter(ImageFilter.BoxBlur(1))
        back = Image.blend(Image.new("RGB", im.size, paper), back, float(rng.uniform(0.1, 0.3)))
        im = ImageChops.darker(im, back)
    # small skew of the whole page (still label 0)
    if rng.random() < 0.3:
        ang = rng.uniform(-3, 3) if rng.random() < 0.5 else rng.uniform(-15, 15)
        border = rng.random()
        fill = paper if border < 0.6 else tuple(int(v) for v in rng.integers(0, 80, 3)) \
            if border < 0.85 else (255, 255, 255)
        if rng.random() < 0.5:  # the page sits inside a larger scan: shrink a bit first
            s = rng.uniform(0.8, 0.95)
            small = im.resize((int(W * s), int(H * s)), Image.BILINEAR)
            im = Image.new("RGB", (W, H), fill)
            im.paste(small, ((W - small.size[0]) // 2 + int(rng.integers(-5, 6)),
                             (H - small.size[1]) // 2 + int(rng.integers(-5, 6))))
        im = im.rotate(float(ang), resample=Image.BILINEAR, fillcolor=fill)
    if rng.random() < 0.25:  # scanner shading / uneven illumination
        im = ImageChops.multiply(im, _shading(rng, W, H))
    if rng.random() < 0.12:  # dark scan borders on some edges
        d = ImageDraw.Draw(im)
        for edge in range(4):
            if rng.random() < 0.5:
                continue
            n = int(rng.uniform(0.01, 0.06) * (W if edge % 2 else H))
            v = int(rng.uniform(0, 90))
            box = ([0, 0, W, n], [W - n, 0, W, H], [0, H - n, W, H], [0, 0, n, H])[edge]
            d.rectangle(box, fill=(v, v, v))
    if rng.random() < 0.15:  # low contrast: lift the ink towards white
        im = Image.blend(im, Image.new("RGB", im.size, (255, 255, 255)),
                         float(rng.uniform(0.2, 0.55)))
    if rng.random() < 0.3:
        im = _soften(rng, im)
    if rng.random() < 0.15:
        im = im.convert("L").convert("RGB")
    arr = np.asarray(im)
    if rng.random() < 0.07:  # binarised, fax-like
        g = np.asarray(im.convert("L")).astype(np.int16)
        if rng.random() < 0.5:
            g = g + _noise_field(rng, H, W, rng.uniform(10, 40))[..., 0]
        b = np.where(g > rng.uniform(120, 190), 255, 0).astype(np.uint8)
        arr = np.repeat(b[..., None], 3, axis=2)
    elif rng.random() < 0.35:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 14)), rng.random() < 0.3)
    if rng.random() < 0.35:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(25, 92))))
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------------------------
# Maps
# ----------------------------------------------------------------------------------------------


def _fractal(rng, h: int, w: int, base_cells: float, octaves: int, gain: float = 0.5
             ) -> np.ndarray:
    """Fractal (multi-octave) noise, (h, w) float32, roughly zero mean, unit-ish range."""
    out = np.zeros((h, w), np.float32)
    amp, cells, total = 1.0, base_cells, 0.0
    for _ in range(octaves):
        if cells > max(h, w) / 2:
            break
        out += amp * (_smooth_noise(rng, h, w, int(cells))[..., 0] - 0.5)
        total += amp
        amp *= gain
        cells *= 2
    return out / max(total, 1e-6)


def _ramp(stops, n=256) -> np.ndarray:
    """Colour lookup table (n, 3) uint8 from [(t, (r, g, b)), ...] with t in [0, 1]."""
    ts = np.array([t for t, _ in stops], np.float32)
    cs = np.array([c for _, c in stops], np.float32)
    x = np.linspace(0, 1, n, dtype=np.float32)
    return np.stack([np.interp(x, ts, cs[:, k]) for k in range(3)], 1).astype(np.uint8)


_HYPSO = [
    [(0, (112, 160, 90)), (0.25, (170, 200, 120)), (0.5, (230, 220, 150)), (0.7, (200, 160, 100)),
     (0.88, (150, 110, 80)), (1, (250, 250, 250))],
    [(0, (90, 150, 80)), (0.4, (200, 210, 140)), (0.75, (180, 140, 90)), (1, (120, 90, 70))],
    [(0, (200, 225, 180)), (0.5, (240, 235, 200)), (1, (220, 190, 160))],
    [(0, (60, 120, 60)), (0.3, (120, 170, 80)), (0.6, (210, 190, 120)), (0.85, (160, 120, 90)),
     (1, (240, 240, 240))],
]
_WATER = [
    [(0, (190, 225, 245)), (1, (40, 90, 170))],
    [(0, (170, 210, 235)), (1, (110, 160, 210))],
    [(0, (215, 235, 250)), (1, (150, 195, 230))],
]
_SEQ = [
    [(0, (255, 247, 188)), (0.5, (254, 153, 41)), (1, (153, 52, 4))],
    [(0, (239, 243, 255)), (0.5, (107, 174, 214)), (1, (8, 69, 148))],
    [(0, (237, 248, 233)), (0.5, (116, 196, 118)), (1, (0, 90, 50))],
    [(0, (254, 229, 217)), (0.5, (251, 106, 74)), (1, (165, 15, 21))],
    [(0, (242, 240, 247)), (0.5, (158, 154, 200)), (1, (84, 39, 143))],
    [(0, (68, 1, 84)), (0.5, (33, 145, 140)), (1, (253, 231, 37))],
]
_SYLL = ["ber", "lin", "ton", "ham", "mar", "vil", "sten", "ka", "ro", "ma", "no", "li", "san",
         "gor", "dor", "va", "el", "ast", "bur", "ford", "ley", "mont", "sur", "pol", "do",
         "ri", "ta", "che", "nik", "wa", "an", "or", "bel", "ca", "stra", "hei", "lu"]
_SUFFIX = ["", "", "", "ville", "burg", "ton", "sk", "ow", "heim", "field", "port", "polis",
           "a", "ia", "en", "stad"]


class _Labels:
    """Greedy label placement without overlaps."""

    def __init__(self):
        self.boxes = []

    def free(self, box) -> bool:
        x0, y0, x1, y1 = box
        for a0, b0, a1, b1 in self.boxes:
            if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                return False
        return True

    def add(self, box):
        self.boxes.append(box)


def _place_name(ctx) -> str:
    rng = ctx.rng
    if ctx.script == "latin" and rng.random() < 0.7:
        s = "".join(_SYLL[int(i)] for i in rng.integers(0, len(_SYLL), int(rng.integers(1, 4))))
        s = (s + _SUFFIX[int(rng.integers(len(_SUFFIX)))]).capitalize()
        if rng.random() < 0.12:
            s = rng.choice(["St. ", "Port ", "New ", "Lake ", "Mount ", "San "]) + s
        return s
    s = ctx.text.words(int(rng.integers(1, 3)))
    return s[:14] if ctx.script not in _NO_SPACES else s[:4]


def _map_label(ctx, labels: _Labels, x, y, s, font, fill, halo=None, dx=0.0, anchor="left"):
    """Draw an upright label near (x, y) if it does not overlap another; returns success."""
    f, _ = font
    w = ctx.width(s, font)
    size = f.size
    if anchor == "center":
        lx, ly = x - w / 2, y - size * 0.6
    else:
        lx, ly = x + dx, y - size * 0.65
    box = (lx - 2, ly - 2, lx + w + 2, ly + size * 1.25 + 2)
    W, H = ctx.im.size
    if box[0] < 0 or box[1] < 0 or box[2] > W or box[3] > H or not labels.free(box):
        return False
    labels.add(box)
    kw = {}
    text = s if f.layout_engine == ImageFont.Layout.BASIC else _drawable(f, s)
    if ctx.rtl:
        if _HAS_RAQM and f.layout_engine == ImageFont.Layout.RAQM:
            kw["direction"] = "rtl"
        else:
            text = text[::-1]
    if f.layout_engine == ImageFont.Layout.BASIC:  # fast path: cached glyphs, ring halo
        if halo is not None:
            r = max(1, size // 10)
            for ox, oy in ((-r, 0), (r, 0), (0, -r), (0, r), (-r, -r), (r, r), (-r, r), (r, -r)):
                _basic_draw(ctx.im, (lx + ox, ly + oy), text, f, halo)
        _basic_draw(ctx.im, (lx, ly), text, f, fill)
        return True
    if halo is not None:
        kw.update(stroke_width=max(1, size // 8), stroke_fill=halo)
    ctx.draw.text((lx, ly), text, font=f, fill=fill, **kw)
    return True


def _river_paths(rng, hgt: np.ndarray, sea: float, n: int):
    """Downhill walks on a low-resolution height field; lists of (row, col)."""
    h, w = hgt.shape
    land = np.argwhere(hgt > sea + 0.3 * (hgt.max() - sea))
    paths = []
    if len(land) == 0:
        return paths
    z = (hgt + rng.uniform(0, 0.004, hgt.shape).astype(np.float32)).tolist()
    jumps = rng.integers(-1, 2, (4 * (h + w) * n, 2)).tolist()
    nj = 0
    nb = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    for _ in range(n):
        r, c = (int(v) for v in land[int(rng.integers(len(land)))])
        path = [(r, c)]
        for _ in range(4 * (h + w)):
            best, br, bc = z[r][c], r, c
            for dr, dc in nb:
                rr, cc = r + dr, c + dc
                if 0 <= rr < h and 0 <= cc < w and z[rr][cc] < best:
                    best, br, bc = z[rr][cc], rr, cc
            if (br, bc) == (r, c):  # a pit: raise it and step at random
                z[r][c] += 0.01
                dr, dc = jumps[nj % len(jumps)]
                nj += 1
                br, bc = min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)
            r, c = br, bc
            path.append((r, c))
            if hgt[r, c] <= sea or r in (0, h - 1) or c in (0, w - 1):
                break
        if len(path) > 8:
            paths.append(path)
    return paths


def _jitter_line(rng, p0, p1, rough: float, depth: int = 4):
    """Midpoint-displaced polyline between two points."""
    pts = [p0, p1]
    for _ in range(depth):
        new = [pts[0]]
        for a, b in zip(pts[:-1], pts[1:]):
            L = math.hypot(b[0] - a[0], b[1] - a[1])
            mx = (a[0] + b[0]) / 2 + rng.normal(0, rough * L * 0.15)
            my = (a[1] + b[1]) / 2 + rng.normal(0, rough * L * 0.15)
            new += [(mx, my), b]
        pts = new
    return pts


def _edges(mask: np.ndarray) -> np.ndarray:
    e = np.zeros_like(mask, dtype=bool)
    e[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    e[1:, :] |= mask[1:, :] != mask[:-1, :]
    return e


def _paint(arr: np.ndarray, mask: np.ndarray, colour, alpha: float = 1.0):
    if alpha >= 1:
        arr[mask] = colour
    else:
        arr[mask] = (arr[mask] * (1 - alpha) + np.asarray(colour, np.float32) * alpha).astype(
            np.uint8)


def _terrain(rng, h, w, style):
    """Low-resolution height field and land mask: (hgt, sea)."""
    hgt = _fractal(rng, h, w, rng.uniform(2, 6), 6, rng.uniform(0.45, 0.6))
    hgt = (hgt - hgt.min()) / max(1e-6, float(hgt.max() - hgt.min()))
    water_share = rng.uniform(0.05, 0.6) if style != "street" else 0.0
    sea = float(np.quantile(hgt, water_share)) if water_share > 0.06 else -1.0
    return hgt, sea


def _map_base(rng, ctx, W, H, style):
    """Raster base of the map area at full size: (rgb uint8 (H, W, 3), hgt_full, sea, hgt_lo)."""
    s = 3 if max(W, H) > 700 else 2
    h, w = max(8, H // s), max(8, W // s)
    hgt, sea = _terrain(rng, h, w, style)
    land = hgt > sea
    if style in ("physical", "topo"):
        lut = _ramp(_HYPSO[int(rng.integers(len(_HYPSO)))])
        wat = _ramp(_WATER[int(rng.integers(len(_WATER)))])
        rel = np.clip((hgt - sea) / max(1e-6, 1 - sea), 0, 1)
        if style == "topo":
            lut = _ramp([(0, (250, 250, 245)), (1, (245, 240, 225))]) if rng.random() < 0.5 else \
                _ramp([(0, (225, 240, 210)), (0.6, (245, 245, 230)), (1, (250, 250, 250))])
        rgb = lut[(rel * 255).astype(np.uint8)].astype(np.float32)
        depth = np.clip((sea - hgt) / max(1e-6, sea - hgt.min() + 1e-6), 0, 1)
        rgbw = wat[(depth * 255).astype(np.uint8)].astype(np.float32)
        if style == "topo":
            rgbw[:] = wat[40]
        rgb = np.where(land[..., None], rgb, rgbw)
        if style == "physical" or rng.random() < 0.3:  # hillshade, light from the north-west
            gy, gx = np.gradient(hgt * rng.uniform(20, 60) * (h / 300))
            shade = np.clip(0.75 + (-gx - gy) * 0.35 / np.sqrt(1 + gx ** 2 + gy ** 2), 0.45, 1.15)
            rgb = np.where(land[..., None], rgb * shade[..., None], rgb)
    elif style in ("choropleth", "political"):
        rgb = np.empty((h, w, 3), np.float32)
        rgb[:] = (170, 210, 235) if rng.random() < 0.6 else (255, 255, 255)
    else:  # street
        rgb = np.empty((h, w, 3), np.float32)
        rgb[:] = (238, 234, 224) if rng.random() < 0.6 else (245, 245, 240)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).resize((W, H), Image.BILINEAR)
    hf = np.asarray(Image.fromarray(hgt, "F").resize((W, H), Image.BILINEAR))
    return np.array(img), hf, sea, hgt


def _map_regions(rng, h, w, n):
    """Voronoi region ids (h, w) uint8 with wiggly borders."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = rng.uniform(0.02, 0.08) * max(h, w)
    yy += _fractal(rng, h, w, 4, 4) * amp * 2
    xx += _fractal(rng, h, w, 4, 4) * amp * 2
    seeds = np.stack([rng.uniform(0, h, n), rng.uniform(0, w, n)], 1).astype(np.float32)
    best = np.full((h, w), np.inf, np.float32)
    ids = np.zeros((h, w), np.uint8)
    for i, (sy, sx) in enumerate(seeds):
        d = (yy - sy) ** 2 + (xx - sx) ** 2
        m = d < best
        best[m] = d[m]
        ids[m] = i
    return ids, seeds


def _scale_bar(ctx, x, y, length, size):
    d, rng = ctx.draw, ctx.rng
    f = ctx.font(size, fam=ctx.latin)
    n = int(rng.integers(2, 5))
    seg = length / n
    unit = rng.choice(["km", "mi", "m", "km"])
    step = rng.choice([1, 2, 5, 10, 25, 50, 100, 250])
    for i in range(n):
        d.rectangle([x + i * seg, y, x + (i + 1) * seg, y + size * 0.45],
                    fill=ctx.ink if i % 2 == 0 else (255, 255, 255), outline=ctx.ink)
    for i in range(n + 1):
        s = f"{i * step}" + (f" {unit}" if i == n else "")
        ctx.put((x + i * seg - ctx.width(f"{i * step}", f) / 2, y + size * 0.6), s, f, rtl=False)


def _north_arrow(ctx, x, y, size):
    d = ctx.draw
    d.polygon([(x, y), (x - size * 0.4, y + size * 1.4), (x, y + size * 1.1)], fill=ctx.ink)
    d.polygon([(x, y), (x + size * 0.4, y + size * 1.4), (x, y + size * 1.1)],
              fill=(255, 255, 255), outline=ctx.ink)
    f = ctx.font(int(size * 0.8), "bold", fam=ctx.latin)
    ctx.put((x - ctx.width("N", f) / 2, y - size * 1.0), "N", f, rtl=False)


def _legend(ctx, x, y, entries, size):
    """entries: list of (kind, colour, label) with kind in fill/line/dot."""
    d = ctx.draw
    f = ctx.font(size)
    tf = ctx.font(int(size * 1.15), "bold")
    widths = [ctx.width(e[2], f) for e in entries]
    bw = size * 3.2 + max(widths + [size * 4])
    bh = size * 1.5 * (len(entries) + 1) + size * 0.5
    d.rectangle([x, y, x + bw, y + bh], fill=(255, 255, 255), outline=ctx.ink)
    title = ctx.text.words(1) if ctx.rng.random() < 0.5 or ctx.script != "latin" else \
        ctx.rng.choice(["Legend", "Key", "LEGEND"])
    ctx.put((x + size * 0.5, y + size * 0.3), title, tf)
    yy = y + size * 1.8
    for kind, col, lab in entries:
        sx = x + size * 0.5
        if kind == "fill":
            d.rectangle([sx, yy, sx + size * 1.8, yy + size], fill=col, outline=(80, 80, 80))
        elif kind == "line":
            d.line([(sx, yy + size * 0.5), (sx + size * 1.8, yy + size * 0.5)], fill=col,
                   width=max(2, size // 5))
        else:
            r = size * 0.3
            d.ellipse([sx + size * 0.9 - r, yy + size * 0.5 - r, sx + size * 0.9 + r,
                       yy + size * 0.5 + r], fill=col, outline=ctx.ink)
        ctx.put((sx + size * 2.4, yy - size * 0.1), lab, f)
        yy += size * 1.5
    return bw, bh


def render_map(rng: np.random.Generator, assets: SynthAssets,
               size_px: tuple[int, int] | None = None, *, script: str | None = None
               ) -> np.ndarray:
    """Render one upright map or chart (physical, topographic, street plan, choropleth...).

    Parameters
    ----------
    rng : numpy Generator, the only source of randomness
    assets : SynthAssets
    size_px : (height, width) in pixels, or None for a random size

    Returns
    -------
    map : (H, W, 3) uint8 RGB, upright (label 0): labels horizontal, north up
    """
    if size_px is None:
        L = rng.uniform(700, 1300)
        a = float(np.exp(rng.uniform(np.log(0.6), np.log(1.8))))
        size_px = (int(L / a), int(L)) if a > 1 else (int(L), int(L * a))
    H, W = max(16, int(size_px[0])), max(16, int(size_px[1]))
    script = script or _pick_script(rng, assets)
    paper = (255, 255, 255) if rng.random() < 0.6 else _paper_colour(rng)
    ctx = _make_ctx(rng, assets, (W, H), script, paper=paper)
    ctx.ink = (int(rng.integers(0, 60)),) * 3
    style = str(rng.choice(["physical", "topo", "street", "choropleth", "political"],
                           p=[0.3, 0.2, 0.2, 0.18, 0.12]))
    # the map area: framed with margins (title above, labels in the margin) or the whole image
    unit = max(9, int(min(W, H) / rng.uniform(45, 80)))  # a typical label size
    framed = rng.random() < 0.6 and min(W, H) > unit * 25
    if framed:
        mx = int(unit * rng.uniform(3, 6))
        top = int(unit * rng.uniform(4, 7))
        box = (mx, top, W - mx, H - int(unit * rng.uniform(3, 6)))
    else:
        box = (0, 0, W, H)
    bw_, bh_ = box[2] - box[0], box[3] - box[1]
    base, hf, sea, hgt = _map_base(rng, ctx, bw_, bh_, style)
    land_full = hf > sea
    # styles
    if style in ("physical", "topo") and sea > -1:
        coast = _edges(land_full)
        _paint(base, coast, (60, 90, 140) if rng.random() < 0.6 else (40, 40, 40))
    if style == "topo":
        step = rng.choice([0.02, 0.025, 0.033, 0.05])
        lev = np.floor(hf / step).astype(np.int16)
        cont = _edges(lev) & land_full
        idx = _edges(np.floor(hf / (step * 5)).astype(np.int16)) & land_full
        idx[:, 1:] |= idx[:, :-1]
        col = (170, 110, 60) if rng.random() < 0.8 else (120, 120, 120)
        _paint(base, cont, col, 0.7)
        _paint(base, idx, tuple(int(c * 0.8) for c in col))
    if style in ("choropleth", "political"):
        s = 3
        h, w = max(8, bh_ // s), max(8, bw_ // s)
        n = int(rng.integers(6, 60))
        ids, seeds = _map_regions(rng, h, w, n)
        idsf = np.asarray(Image.fromarray(ids).resize((bw_, bh_), Image.NEAREST))
        land_ok = land_full if sea > -1 else np.ones_like(land_full)
        if style == "choropleth":
            lut = _ramp(_SEQ[int(rng.integers(len(_SEQ)))])
            k = int(rng.integers(4, 8))
            vals = rng.integers(0, k, n)
            cols = lut[(vals * 255 // max(1, k - 1)).astype(int)]
        else:
            pastel = rng.uniform(170, 245, (n, 3)).astype(np.uint8)
            cols = pastel
            k, lut = 0, None
        reg = cols[idsf]
        base = np.where(land_ok[..., None], reg, base)
        border = _edges(idsf) & land_ok
        border |= _edges(land_ok)
        _paint(base, border, (90, 90, 90) if rng.random() < 0.7 else (255, 255, 255))
    img = Image.fromarray(base)
    ctx.im.paste(img, box[:2])
    d = ctx.draw
    labels = _Labels()
    ox, oy = box[0], box[1]
    sc_y, sc_x = bh_ / hgt.shape[0], bw_ / hgt.shape[1]
    label_font_fam = ctx.body if rng.random() < 0.7 else ctx.head
    halo = (255, 255, 255) if rng.random() < 0.6 else None

    if style == "street":
        _draw_streets(ctx, rng, box, unit, labels)
        if framed:  # clip the plan to its frame: repaint the margins
            for band in ([0, 0, W, box[1]], [0, box[3], W, H], [0, 0, box[0], H],
                         [box[2], 0, W, H]):
                d.rectangle(band, fill=ctx.paper)
    else:
        # rivers
        if style != "choropleth" and sea > -1:
            rc = (70, 120, 200)
            for path in _river_paths(rng, hgt, sea, int(rng.integers(1, 7))):
                pts = [(ox + (c + 0.5) * sc_x, oy + (r + 0.5) * sc_y) for r, c in path[::2]]
                if len(pts) > 2:
                    d.line(pts, fill=rc, width=int(rng.integers(1, 4)), joint="curve")
        # cities and roads
        ncity = int(rng.integers(4, 40))
        landpts = np.argwhere(hgt > sea) if sea > -1 else np.argwhere(np.ones_like(hgt, bool))
        cities = []
        if len(landpts):
            pick = landpts[rng.integers(0, len(landpts), ncity)]
            cities = [(ox + (c + 0.5) * sc_x, oy + (r + 0.5) * sc_y) for r, c in pick]
        if style != "choropleth" and len(cities) > 1 and rng.random() < 0.85:
            road_cols = [(200, 40, 40), (230, 150, 30), (120, 120, 120), (250, 210, 80)]
            for i, p in enumerate(cities):
                dists = [math.hypot(p[0] - q[0], p[1] - q[1]) for q in cities]
                order = np.argsort(dists)[1:int(rng.integers(2, 4))]
                for j in order:
                    if j < i:
                        continue
                    pts = _jitter_line(rng, p, cities[j], 0.5, 3)
                    col = road_cols[int(rng.integers(len(road_cols)))]
                    wid = int(rng.integers(1, 4))
                    if wid > 1 and rng.random() < 0.5:
                        d.line(pts, fill=(90, 60, 40), width=wid + 2)
                    d.line(pts, fill=col, width=wid)
        for i, (x, y) in enumerate(cities):
            big = rng.random() < 0.2
            r = unit * (0.45 if big else 0.3)
            if big and rng.random() < 0.5:
                d.rectangle([x - r, y - r, x + r, y + r], fill=ctx.ink)
            else:
                d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255) if rng.random() < 0.3
                          else ctx.ink, outline=ctx.ink)
            sz = int(unit * (1.3 if big else rng.uniform(0.8, 1.1)))
            f = ctx.font(sz, "bold" if big else "regular", label_font_fam)
            name = _place_name(ctx)
            for dx_ in (r + 2, -(r + 2) - ctx.width(name, f)):
                if _map_label(ctx, labels, x, y, name, f, ctx.ink, halo, dx=dx_):
                    break
        # water / region names
        for _ in range(int(rng.integers(0, 4))):
            pts = np.argwhere(hgt <= sea) if (sea > -1 and rng.random() < 0.6) else None
            if pts is None or not len(pts):
                pts = np.argwhere(hgt > sea)
                fill, style_ = (ctx.ink, "bold")
            else:
                fill, style_ = ((40, 80, 160), "italic")
            if not len(pts):
                continue
            r_, c_ = pts[int(rng.integers(len(pts)))]
            f = ctx.font(int(unit * rng.uniform(1.3, 2.2)), style_, label_font_fam)
            name = _place_name(ctx)
            if ctx.script in ("latin", "cyrillic", "greek") and rng.random() < 0.6:
                name = " ".join(name.upper())
            _map_label(ctx, labels, ox + c_ * sc_x, oy + r_ * sc_y, name, f, fill, halo,
                       anchor="center")
        if style == "topo":  # contour labels
            step_m = int(rng.choice([10, 20, 50, 100]))
            f = ctx.font(max(8, int(unit * 0.8)), fam=ctx.latin)
            for _ in range(int(rng.integers(3, 15))):
                y_ = int(rng.integers(0, bh_))
                row = land_full[y_]
                if not row.any():
                    continue
                xs = np.flatnonzero(row)
                x_ = int(xs[int(rng.integers(len(xs)))])
                s = str(int(hf[y_, x_] * 100) * step_m)
                halo_ = tuple(int(v) for v in base[y_, x_])  # the map colour under it
                _map_label(ctx, labels, ox + x_, oy + y_, s, f, (150, 90, 40), halo_,
                           anchor="center")
    # graticule
    if rng.random() < 0.55 and style != "street":
        n_ = int(rng.integers(3, 8))
        lat0, lon0 = rng.uniform(-60, 60), rng.uniform(-170, 150)
        stepd = float(rng.choice([1, 2, 5, 10, 15]))
        gc = (80, 80, 120) if rng.random() < 0.5 else (120, 120, 120)
        f = ctx.font(max(8, int(unit * 0.85)), fam=ctx.latin)
        curved = rng.random() < 0.35
        bend = rng.uniform(0.02, 0.08) * bh_ if curved else 0
        for i in range(1, n_):
            x = ox + bw_ * i / n_
            d.line([(x, oy), (x, oy + bh_)], fill=gc, width=1)
            lon = lon0 + i * stepd
            s = f"{abs(lon):.0f}°{'E' if lon >= 0 else 'W'}"
            if framed:
                ctx.put((x - ctx.width(s, f) / 2, oy + bh_ + unit * 0.3), s, f, rtl=False)
                ctx.put((x - ctx.width(s, f) / 2, oy - unit * 1.5), s, f, rtl=False)
        for i in range(1, n_):
            y = oy + bh_ * i / n_
            pts = [(ox + bw_ * t / 16, y + bend * (1 - ((t - 8) / 8) ** 2)) for t in range(17)]
            d.line(pts, fill=gc, width=1)
            lat = lat0 + (n_ - i) * stepd
            s = f"{abs(lat):.0f}°{'N' if lat >= 0 else 'S'}"
            if framed:
                ctx.put((ox - ctx.width(s, f) - unit * 0.3, y - unit * 0.5), s, f, rtl=False)
                ctx.put((ox + bw_ + unit * 0.3, y - unit * 0.5), s, f, rtl=False)
    # frame, title, legend, scale bar, north arrow
    if framed:
        d.rectangle(list(box), outline=ctx.ink, width=int(rng.integers(1, 4)))
    tsz = int(unit * rng.uniform(1.8, 3.0))
    title = ctx.text.title(int(rng.integers(1, 5)))
    tf = ctx.font(tsz, "bold" if rng.random() < 0.7 else "regular", ctx.head)
    if framed:
        tw = ctx.width(title, tf)
        tx = (W - tw) / 2 if rng.random() < 0.6 else box[0]
        ctx.put((tx, max(2, box[1] - tsz * 1.35 - (unit * 1.5 if rng.random() < 0.3 else 0))),
                title, tf)
    elif rng.random() < 0.6:
        tw = ctx.width(title, tf)
        x, y = unit, unit
        d.rectangle([x, y, x + tw + unit, y + tsz * 1.5], fill=(255, 255, 255), outline=ctx.ink)
        ctx.put((x + unit / 2, y + tsz * 0.15), title, tf)
    if rng.random() < 0.65:
        if style == "choropleth" and lut is not None:
            entries = []
            lo = rng.uniform(0, 100)
            stepv = rng.choice([1, 5, 10, 50, 100])
            for i in range(k):
                entries.append(("fill", tuple(int(v) for v in lut[i * 255 // max(1, k - 1)]),
                                f"{lo + i * stepv:g} – {lo + (i + 1) * stepv:g}"))
        else:
            entries = [("dot", ctx.ink, ctx.text.words(1)),
                       ("line", (200, 40, 40), ctx.text.words(2)),
                       ("line", (70, 120, 200), ctx.text.words(1)),
                       ("fill", (170, 200, 120), ctx.text.words(1))][: int(rng.integers(2, 5))]
        lsz = max(8, int(unit * rng.uniform(0.8, 1.0)))
        corner = int(rng.integers(4))
        ew = lsz * 3.2 + max([ctx.width(e[2], ctx.font(lsz)) for e in entries] + [lsz * 4])
        eh = lsz * 1.5 * (len(entries) + 1) + lsz * 0.5
        lx = box[0] + unit if corner % 2 == 0 else box[2] - unit - ew
        ly = box[1] + unit if corner < 2 else box[3] - unit - eh
        if framed or corner >= 2 or rng.random() < 0.5:
            _legend(ctx, lx, ly, entries, lsz)
    if rng.random() < 0.6:
        _scale_bar(ctx, box[2] - unit * 14, box[3] - unit * 2.5, unit * 10,
                   max(8, int(unit * 0.9)))
    if rng.random() < 0.5:
        _north_arrow(ctx, box[2] - unit * 3, box[1] + unit * 2.5, unit * 1.6)
    return _degrade_light(rng, ctx.im)


def _draw_streets(ctx, rng, box, unit, labels):
    """A street plan: rotated grid, avenues, parks, a river, upright street names."""
    d = ctx.draw
    x0, y0, x1, y1 = box
    W_, H_ = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    th = math.radians(rng.uniform(-35, 35)) if rng.random() < 0.7 else 0.0
    ux, uy = math.cos(th), math.sin(th)
    vx, vy = -uy, ux
    R = math.hypot(W_, H_) / 2
    sp_u = unit * rng.uniform(5, 12)
    sp_v = sp_u * rng.uniform(0.6, 1.6)
    # parks and water first
    for _ in range(int(rng.integers(0, 5))):
        a, b = rng.uniform(-R, R, 2)
        w, h = sp_u * rng.integers(1, 4), sp_v * rng.integers(1, 3)
        poly = [(cx + (a + p) * ux + (b + q) * vx, cy + (a + p) * uy + (b + q) * vy)
                for p, q in ((0, 0), (w, 0), (w, h), (0, h))]
        d.polygon(poly, fill=(200, 225, 180) if rng.random() < 0.8 else (215, 210, 200))
    if rng.random() < 0.4:
        p0 = (x0 - 10, y0 + rng.uniform(0, H_))
        p1 = (x1 + 10, y0 + rng.uniform(0, H_))
        d.line(_jitter_line(rng, p0, p1, 0.4, 4), fill=(170, 205, 235),
               width=int(unit * rng.uniform(2, 5)), joint="curve")
    casing = (190, 185, 175)
    majors = []
    for axis in (0, 1):
        sp = sp_u if axis == 0 else sp_v
        n = int(R / sp) + 1
        for i in range(-n, n + 1):
            off = i * sp + rng.normal(0, sp * 0.05)
            major = rng.random() < 0.15
            if axis == 0:  # lines along v at u = off
                p = (cx + off * ux - R * vx, cy + off * uy - R * vy)
                q = (cx + off * ux + R * vx, cy + off * uy + R * vy)
            else:
                p = (cx - R * ux + off * vx, cy - R * uy + off * vy)
                q = (cx + R * ux + off * vx, cy + R * uy + off * vy)
            w = unit * (0.9 if major else 0.5)
            d.line([p, q], fill=casing, width=int(w + 2))
            if major:
                majors.append((p, q, w, axis))
            else:
                d.line([p, q], fill=(255, 255, 255), width=int(w))
    for p, q, w, axis in majors:
        d.line([p, q], fill=(250, 200, 90) if rng.random() < 0.7 else (240, 150, 120),
               width=int(w))
    if rng.random() < 0.5:  # a diagonal avenue
        p = (x0 + rng.uniform(0, W_), y0)
        q = (x0 + rng.uniform(0, W_), y1)
        d.line([p, q], fill=casing, width=int(unit * 1.1))
        d.line([p, q], fill=(255, 255, 255), width=int(unit * 0.9))
    # building footprints in a few blocks
    for _ in range(int(rng.integers(0, 60))):
        a, b = rng.uniform(-R, R, 2)
        a = (math.floor(a / sp_u) + rng.uniform(0.15, 0.6)) * sp_u
        b = (math.floor(b / sp_v) + rng.uniform(0.15, 0.6)) * sp_v
        w, h = sp_u * rng.uniform(0.15, 0.3), sp_v * rng.uniform(0.15, 0.3)
        poly = [(cx + (a + p) * ux + (b + q) * vx, cy + (a + p) * uy + (b + q) * vy)
                for p, q in ((0, 0), (w, 0), (w, h), (0, h))]
        d.polygon(poly, fill=(215, 205, 195), outline=(180, 170, 160))
    # upright street names and POIs
    fam = ctx.body
    halo = (255, 255, 255)
    for _ in range(int(rng.integers(6, 30))):
        x, y = x0 + rng.uniform(0, W_), y0 + rng.uniform(0, H_)
        f = ctx.font(int(unit * rng.uniform(0.8, 1.2)), "italic" if rng.random() < 0.3 else
                     "regular", fam)
        name = _place_name(ctx)
        if ctx.script == "latin" and rng.random() < 0.5:
            name += rng.choice([" St", " Ave", " Rd", " Street", "straße", " Blvd", " Way"])
        _map_label(ctx, labels, x, y, name, f, (60, 60, 60), halo, anchor="center")
    for _ in range(int(rng.integers(0, 12))):
        x, y = x0 + rng.uniform(0, W_), y0 + rng.uniform(0, H_)
        r = unit * 0.5
        col = tuple(int(v) for v in rng.choice([(200, 50, 50), (50, 100, 200), (60, 150, 60),
                                                (150, 80, 160)]))
        d.ellipse([x - r, y - r, x + r, y + r], fill=col, outline=(255, 255, 255))
        f = ctx.font(int(unit * 0.8), fam=fam)
        _map_label(ctx, labels, x, y, _place_name(ctx), f, col, halo, dx=r + 2)


def _degrade_light(rng, im: Image.Image) -> np.ndarray:
    """Mild, orientation-free degradations for maps."""
    if rng.random() < 0.25:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    arr = np.asarray(im)
    if rng.random() < 0.25:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 8)), rng.random() < 0.5)
    if rng.random() < 0.4:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(35, 92))))
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------------------------
# Textures: content with no up
# ----------------------------------------------------------------------------------------------


def _tex_noise(rng, W, H):
    n = _fractal(rng, H, W, rng.uniform(2, 30), int(rng.integers(2, 7)), rng.uniform(0.4, 0.8))
    n = (n - n.min()) / max(1e-6, float(n.max() - n.min()))
    lut = _ramp([(0, tuple(int(v) for v in rng.uniform(0, 255, 3))),
                 (rng.uniform(0.3, 0.7), tuple(int(v) for v in rng.uniform(0, 255, 3))),
                 (1, tuple(int(v) for v in rng.uniform(0, 255, 3)))])
    return Image.fromarray(lut[(n * 255).astype(np.uint8)])


def _blobs(rng, n: int, W, H, r_lo, r_hi, ecc_lo, npts: int, wobble: float = 0.0) -> list:
    """``n`` randomly oriented, slightly irregular ellipses as polygon point lists (vectorised)."""
    if n <= 0:
        return []
    cx, cy = rng.uniform(0, W, n), rng.uniform(0, H, n)
    a = rng.uniform(r_lo, r_hi, n)
    b = a * rng.uniform(ecc_lo, 1.0, n)
    th = rng.uniform(0, np.pi, n)
    t = np.linspace(0, 2 * np.pi, npts, endpoint=False)
    r = 1 + (rng.normal(0, wobble, (n, npts)) if wobble else 0)
    x = a[:, None] * np.cos(t)[None] * r
    y = b[:, None] * np.sin(t)[None] * r
    c, s_ = np.cos(th)[:, None], np.sin(th)[:, None]
    px = cx[:, None] + c * x - s_ * y
    py = cy[:, None] + s_ * x + c * y
    pts = np.stack([px, py], axis=2).reshape(n, -1)
    return pts.tolist()


def _tex_cells(rng, W, H, fluor: bool):
    if fluor:
        bg = tuple(int(v) for v in rng.integers(0, 20, 3))
        im = Image.new("RGB", (W, H), bg)
    else:  # H&E-like
        n = _fractal(rng, H, W, rng.uniform(4, 20), 4)
        base = np.array([rng.uniform(215, 245), rng.uniform(150, 200), rng.uniform(190, 225)],
                        np.float32)
        a = base * (1 + n[..., None] * rng.uniform(0.1, 0.3))
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    r0 = max(3.0, rng.uniform(4, 18) * max(W, H) / 800)
    n = min(3000, int(W * H / (r0 * r0) * rng.uniform(0.05, 0.35)))
    if fluor:
        chans = [(60, 90, 255), (60, 255, 90), (255, 70, 60), (255, 255, 80), (255, 60, 255)]
        main = chans[int(rng.integers(len(chans)))]
    else:
        main = (int(rng.uniform(60, 120)), int(rng.uniform(20, 60)), int(rng.uniform(110, 170)))
        # pale cytoplasm / stroma blobs first
        cols = np.stack([rng.uniform(220, 250, n // 3), rng.uniform(140, 190, n // 3),
                         rng.uniform(180, 220, n // 3)], 1).astype(int).tolist()
        for poly, col in zip(_blobs(rng, n // 3, W, H, r0 * 1.5, r0 * 4, 0.4, 16), cols):
            d.polygon(poly, fill=tuple(col))
    ks = rng.uniform(0.5, 1.0, n)
    for poly, k in zip(_blobs(rng, n, W, H, r0 * 0.6, r0 * 1.4, 0.45, 14, 0.06), ks.tolist()):
        d.polygon(poly, fill=(int(main[0] * k), int(main[1] * k), int(main[2] * k)))
    if fluor and rng.random() < 0.6:  # a second channel, sparser
        c2 = (255, 80, 80) if main[2] > 200 else (80, 120, 255)
        for poly in _blobs(rng, n // 4, W, H, r0 * 0.3, r0 * 0.9, 0.5, 12):
            d.polygon(poly, fill=c2)
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5) if fluor else
                                                  rng.uniform(0.3, 1.2))))
    return im


def _tex_foam(rng, W, H):
    bg = tuple(int(v) for v in rng.uniform(20, 230, 3))
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    edge = tuple(int(min(255, v + rng.uniform(-120, 120))) for v in bg)
    r0 = max(3.0, rng.uniform(5, 40) * max(W, H) / 800)
    for _ in range(min(2500, int(W * H / (r0 * r0) * 0.6))):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = r0 * rng.uniform(0.3, 1.5)
        d.ellipse([x - r, y - r, x + r, y + r], outline=edge, width=max(1, int(r / 8)),
                  fill=bg if rng.random() < 0.7 else None)
    return im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))


def _tex_gravel(rng, W, H):
    base = rng.uniform(60, 200, 3)
    im = Image.new("RGB", (W, H), tuple(int(v * 0.6) for v in base))
    d = ImageDraw.Draw(im)
    r0 = max(3.0, rng.uniform(6, 40) * max(W, H) / 800)
    n = min(3000, int(W * H / (r0 * r0) * 0.8))
    cols = np.clip(base[None] * rng.uniform(0.6, 1.3, (n, 1)) + rng.normal(0, 15, (n, 3)), 0,
                   255).astype(int)
    outl = (cols * 0.5).astype(int)
    for poly, c, o in zip(_blobs(rng, n, W, H, r0 * 0.5, r0 * 1.3, 0.5, 7, 0.12),
                          cols.tolist(), outl.tolist()):
        d.polygon(poly, fill=tuple(c), outline=tuple(o))
    return im


def _tex_fabric(rng, W, H):
    p = max(2.5, rng.uniform(3, 16) * max(W, H) / 800)
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    wx = 0.5 + 0.5 * np.cos(2 * np.pi * x / p)
    wy = 0.5 + 0.5 * np.cos(2 * np.pi * y / p)
    checker = ((np.floor(x / p) + np.floor(y / p)) % 2).astype(np.float32)
    v = checker * wx + (1 - checker) * wy  # a plain weave: 4-fold symmetric
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = c1 * v[..., None] + c2 * (1 - v[..., None])
    a *= 1 + 0.15 * _fractal(rng, H, W, rng.uniform(5, 40), 3)[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _tex_lines(rng, W, H):
    bg = tuple(int(v) for v in rng.uniform(0, 255, 3))
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    R = math.hypot(W, H)
    for _ in range(int(rng.integers(20, 400))):
        th = rng.uniform(0, np.pi)
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        L = R * rng.uniform(0.05, 1)
        dx, dy = math.cos(th) * L / 2, math.sin(th) * L / 2
        col = tuple(int(v) for v in rng.uniform(0, 255, 3))
        d.line([(x - dx, y - dy), (x + dx, y + dy)], fill=col, width=int(rng.integers(1, 6)))
    return im


def _tex_speckle(rng, W, H):
    im = Image.new("RGB", (W, H), tuple(int(v) for v in rng.uniform(0, 255, 3)))
    d = ImageDraw.Draw(im)
    r0 = max(1.5, rng.uniform(1, 10) * max(W, H) / 800)
    cols = rng.uniform(0, 255, (4, 3)).astype(int)
    for _ in range(min(4000, int(W * H / (r0 * r0) * 0.2))):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = r0 * rng.uniform(0.4, 1.6)
        c = tuple(int(v) for v in cols[int(rng.integers(4))])
        d.ellipse([x - r, y - r, x + r, y + r], fill=c)
    return im


_TEXTURES = {
    "noise": (_tex_noise, 0.2),
    "cells": (lambda rng, W, H: _tex_cells(rng, W, H, False), 0.22),
    "fluor": (lambda rng, W, H: _tex_cells(rng, W, H, True), 0.14),
    "foam": (_tex_foam, 0.1),
    "gravel": (_tex_gravel, 0.1),
    "fabric": (_tex_fabric, 0.08),
    "lines": (_tex_lines, 0.08),
    "speckle": (_tex_speckle, 0.08),
}


def render_texture(rng: np.random.Generator, size_px: tuple[int, int] | None = None
                   ) -> np.ndarray:
    """Render content with no up (noise, cells, foam, gravel, fabric, lines...).

    The result is finally turned by a random multiple of 90 degrees and maybe mirrored,
    so that the distribution of textures is exactly invariant under the four rotations.

    Parameters
    ----------
    rng : numpy Generator
    size_px : (height, width) in pixels, or None for a random square-ish size

    Returns
    -------
    texture : (H, W, 3) uint8 RGB, for a uniform label
    """
    if size_px is None:
        L = int(rng.uniform(400, 900))
        size_px = (L, int(L * rng.uniform(0.7, 1.4)))
    H, W = max(16, int(size_px[0])), max(16, int(size_px[1]))
    names = list(_TEXTURES)
    p = np.array([_TEXTURES[k][1] for k in names])
    name = names[int(rng.choice(len(names), p=p / p.sum()))]
    k = int(rng.integers(4))
    h_, w_ = (W, H) if k % 2 else (H, W)  # render so that the final turn gives (H, W)
    im = _TEXTURES[name][0](rng, w_, h_)
    arr = np.asarray(im)
    if rng.random() < 0.3:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 12)), rng.random() < 0.5)
    if rng.random() < 0.3:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(40, 92))))
    arr = np.rot90(arr, k)
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    return np.ascontiguousarray(arr)


def render_sample(rng: np.random.Generator, assets: SynthAssets, kind: str) -> np.ndarray:
    """Render one upright sample of ``kind`` ("document", "map" or "texture")."""
    if kind == "document":
        return render_document(rng, assets)
    if kind == "map":
        return render_map(rng, assets)
    if kind == "texture":
        return render_texture(rng)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _main(argv=None):
    ap = argparse.ArgumentParser(description="Save synthetic preview images.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--fonts", default=".data/fonts")
    ap.add_argument("--text", default=".data/text")
    ap.add_argument("--script", default=None, help="force a script (documents and maps)")
    ap.add_argument("--genre", default=None, help="force a document genre")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    assets = SynthAssets.load(args.fonts, args.text)
    print(f"assets: {time.perf_counter() - t0:.2f}s, scripts {assets.scripts}")
    for kind in args.kinds.split(","):
        times = []
        for i in range(args.n):
            rng = np.random.default_rng([args.seed, i, KINDS.index(kind)])
            t = time.perf_counter()
            if kind == "document" and (args.script or args.genre):
                img = render_document(rng, assets, script=args.script, genre=args.genre)
            elif kind == "map" and args.script:
                img = render_map(rng, assets, script=args.script)
            else:
                img = render_sample(rng, assets, kind)
            times.append(time.perf_counter() - t)
            Image.fromarray(img).save(out / f"{kind}_{i:03d}.png")
        print(f"{kind}: {1e3 * np.mean(times):.1f} ms mean, {1e3 * np.median(times):.1f} ms "
              f"median, {1e3 * np.max(times):.1f} ms max over {len(times)}")


if __name__ == "__main__":
    _main()
