"""Collect a varied, compact set of fonts for the document renderer from Debian font packages.

    python -m tools.data.fetch_fonts --out .data/fonts [--cache .data/cache]

(from the repository root).

Fonts are fetched with ``apt-get download`` + ``dpkg -x`` (never installed) and copied to
``<out>/``; ``<out>/fonts.json`` lists ``{file, family, style, scripts, license, package,
version}`` for each. Selection rules:

- ``_PICKS`` names, per package, the font files to take (shell globs on the file name): many
  Latin families (serif, sans, mono, condensed, display, handwriting-like, TeX-like), and one or
  two faces for each non-Latin script (Noto), plus compact CJK fonts (Droid Sans Fallback for Han
  and kana, Baekmuk Headline for Hangul).
- ``scripts`` is measured, not declared: a script is listed when the font's cmap covers at least
  95% of that script's sample characters in ``_SCRIPT_SAMPLES``.
- The whole set must stay under ``_MAX_TOTAL_MB``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import shutil
import sys
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont

from . import _common as C

LOGGER = logging.getLogger("rayrot.data.fonts")

_MAX_TOTAL_MB = 15.0

# (package, [file-name globs]); the order is the order in fonts.json
_PICKS: list[tuple[str, list[str]]] = [
    ("fonts-dejavu-core", ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"]),
    ("fonts-liberation2", ["LiberationSerif-Regular.ttf", "LiberationSans-Regular.ttf"]),
    ("fonts-linuxlibertine", ["LinLibertine_R.otf", "LinBiolinum_R.otf"]),
    ("fonts-urw-base35", ["C059-Roman.otf", "P052-Roman.otf", "URWBookman-Light.otf",
                          "Z003-MediumItalic.otf", "NimbusSansNarrow-Regular.otf",
                          "URWGothic-Book.otf"]),
    ("fonts-crosextra-caladea", ["Caladea-Regular.ttf"]),
    ("fonts-ebgaramond", ["EBGaramond12-Regular.otf"]),
    ("fonts-cantarell", ["Cantarell-Regular.otf"]),
    ("fonts-roboto-unhinted", ["Roboto-Regular.ttf", "RobotoCondensed-Regular.ttf",
                               "RobotoSlab-Regular.ttf"]),
    ("fonts-open-sans", ["OpenSans-Regular.ttf"]),
    ("fonts-comic-neue", ["ComicNeue-Regular.otf", "ComicNeue-Bold.otf"]),
    ("fonts-cmu", ["cmunrm.ttf", "cmunss.ttf"]),
    ("fonts-lmodern", ["lmroman10-regular.otf", "lmsans10-regular.otf", "lmmono10-regular.otf"]),
    ("fonts-inconsolata", ["Inconsolata.otf"]),
    ("fonts-humor-sans", ["Humor-Sans.ttf"]),
    ("fonts-breip", ["Breip.ttf", "breip.ttf"]),
    ("fonts-courier-prime", ["Courier Prime.otf", "Courier Prime.ttf"]),
    ("fonts-vollkorn", ["Vollkorn-Regular.ttf", "Vollkorn-Regular.otf"]),
    ("fonts-dancingscript", ["DancingScript-Regular.ttf", "DancingScript-Regular.otf",
                             "DancingScript*.ttf"]),
    ("fonts-cabin", ["Cabin-Regular.ttf", "Cabin-Regular.otf"]),
    ("fonts-quicksand", ["Quicksand-Regular.ttf", "Quicksand*.ttf"]),
    ("fonts-anonymous-pro", ["Anonymous Pro.ttf", "AnonymousPro-Regular.ttf"]),
    ("fonts-bebas-neue", ["BebasNeue-Regular.ttf", "BebasNeue*.ttf", "BebasNeue*.otf"]),
    ("fonts-lobster", ["lobster.otf"]),
    ("fonts-hosny-amiri", ["Amiri-Regular.ttf"]),
    ("fonts-noto-core", [f"Noto{k}-Regular.ttf" for k in (
        "NaskhArabic", "SansArabic", "SansHebrew",
        "SansDevanagari", "SansBengali", "SansTamil", "SerifTamil", "SansThai", "SerifThai",
        "SansGeorgian", "SerifGeorgian", "SansArmenian", "SerifArmenian", "SansEthiopic",
        "SansGurmukhi", "SansLao")]),
    ("fonts-droid-fallback", ["DroidSansFallbackFull.ttf"]),
    ("fonts-baekmuk", ["hline.ttf"]),
]

# a handful of ordinary letters per script; coverage >= 95% lists the script
_SCRIPT_SAMPLES = {
    "latin": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZàéèüöäßçñøåłš",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯёіїєў",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةى",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשתךםןףץ",
    "devanagari": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह्ािीुूेैोौं",
    "bengali": "অআইঈউঊএঐওঔকখগঘচছজঝটঠডঢণতথদধনপফবভমযরলশষসহ্ািীুূেৈোৌং",
    "tamil": "அஆஇஈஉஊஎஏஐஒஓஔகஙசஞடணதநபமயரலவழளறன்ாிீுூெேைொோௌ",
    "thai": "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะาำิีึืุู่้๊๋",
    "georgian": "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
    "armenian": "աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖ",
    "ethiopic": "ሀለሐመሠረሰሸቀበተቸኀነኘአከኸወዐዘዠየደጀገጠጨጰጸፀፈፐ",
    "han": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "japanese": "あいうえおかきくけこさしすせそたちつてとなにぬねのアイウエオカキクケコ",
    "hangul": "가나다라마바사아자차카타파하한국어대학교서울",
    "gujarati": "અઆઇઈઉકખગઘચછજઝટઠડઢણતથદધનપફબભમયરલવશષસહ",
    "gurmukhi": "ਅਆਇਈਉਊਏਐਓਔਕਖਗਘਚਛਜਝਟਠਡਢਣਤਥਦਧਨਪਫਬਭਮਯਰਲਵ",
    "telugu": "అఆఇఈఉఊఎఏఐఒఓఔకఖగఘచఛజఝటఠడఢణతథదధనపఫబభమయరలవ",
    "kannada": "ಅಆಇಈಉಊಎಏಐಒಓಔಕಖಗಘಚಛಜಝಟಠಡಢಣತಥದಧನಪಫಬಭಮಯರಲವ",
    "malayalam": "അആഇഈഉഊഎഏഐഒഓഔകഖഗഘചഛജഝടഠഡഢണതഥദധനപഫബഭമയരലവ",
    "sinhala": "අආඇඈඉඊඋඌඑඒඓඔඕඖකඛගඝචඡජඣටඨඩඪණතථදධනපඵබභමයරලවශෂසහ",
    "khmer": "កខគឃងចឆជឈញដឋឌឍណតថទធនបផពភមយរលវសហឡអ",
    "lao": "ກຂຄງຈຊຍດຕຖທນບປຜຝພຟມຢຣລວສຫອຮ",
    "myanmar": "ကခဂဃငစဆဇဈညဋဌဍဎဏတထဒဓနပဖဗဘမယရလဝသဟဠအ",
}


def font_scripts(path: Path) -> list[str]:
    """Scripts whose sample characters the font covers (>= 95%)."""
    font = TTCollection(str(path)).fonts[0] if path.suffix.lower() == ".ttc" else TTFont(
        str(path), lazy=True)
    cmap = font.getBestCmap() or {}
    out = []
    for script, sample in _SCRIPT_SAMPLES.items():
        have = sum(ord(ch) in cmap for ch in sample)
        if have >= 0.95 * len(sample):
            out.append(script)
    return out


def font_names(path: Path) -> tuple[str, str]:
    """(family, style) from the name table (typographic names preferred)."""
    font = TTFont(str(path), lazy=True)
    name = font["name"]
    fam = name.getDebugName(16) or name.getDebugName(1) or path.stem
    sty = name.getDebugName(17) or name.getDebugName(2) or "Regular"
    return fam, sty


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(".data/fonts"))
    ap.add_argument("--cache", type=Path, default=Path(".data/cache"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    entries, total = [], 0
    for package, globs in _PICKS:
        try:
            fetched = C.fetch_deb(package, args.cache)
        except RuntimeError as exc:
            LOGGER.warning("cannot fetch %s: %s", package, exc)
            continue
        files = sorted(p for p in (fetched.root / "usr/share").rglob("*")
                       if p.suffix.lower() in (".ttf", ".otf", ".ttc"))
        taken = set()
        for pattern in globs:
            match = [p for p in files if fnmatch.fnmatch(p.name, pattern) and p.name not in taken]
            if not match:
                continue
            src = match[0]
            if any(fnmatch.fnmatch(t, pattern) for t in taken) and "*" in pattern:
                continue
            taken.add(src.name)
            dest = args.out / src.name.replace(" ", "")
            shutil.copyfile(src, dest)
            total += dest.stat().st_size
            family, style = font_names(dest)
            entries.append({"file": dest.name, "family": family, "style": style,
                            "scripts": font_scripts(dest), "license": fetched.license,
                            "package": package, "version": fetched.version})
        if not taken:
            LOGGER.warning("no font matched in %s (%s)", package, globs)
    if total / 2**20 > _MAX_TOTAL_MB:
        raise SystemExit(f"fonts total {total / 2**20:.1f} MB > {_MAX_TOTAL_MB} MB: trim _PICKS")
    (args.out / "fonts.json").write_text(json.dumps(entries, indent=1, ensure_ascii=False))
    scripts = sorted({s for e in entries for s in e["scripts"]})
    print(f"{len(entries)} fonts, {total / 2**20:.1f} MB, scripts: {', '.join(scripts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
