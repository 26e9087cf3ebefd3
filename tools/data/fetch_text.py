"""Gather real running text in many scripts for the document renderer.

    python -m tools.data.fetch_text --out .data/text [--cache .data/cache]

(from the repository root).

Sources are Debian packages fetched with ``apt-get download`` + ``dpkg -x`` (never installed):

- gettext catalogues (``*.mo``): every ``msgstr`` of every language in ``_MO_PACKAGES``
  (program messages, ISO code names, LibreOffice UI of less common languages);
- translated manual pages (``_MAN_PACKAGES``): roff markup stripped, paragraphs joined.

Every string is cleaned (format specifiers, accelerator marks, markup and entities removed,
whitespace collapsed), classified by the Unicode script of its letters (the script holding
>= 60% of the letters; kana makes it ``japanese``), and appended to ``<out>/<script>.txt``, one
string a line, de-duplicated, shuffled with a fixed seed and capped at
``_MAX_BYTES_PER_SCRIPT``. Strings shorter than ``_MIN_CHARS`` characters or holding
undecodable bytes are dropped. ``<out>/text.json`` records the sources, their licences, and the size
of each file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import re
import shutil
import struct
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

from . import _common as C

LOGGER = logging.getLogger("rayrot.data.text")

_MIN_CHARS = 12
_MAX_BYTES_PER_SCRIPT = 150_000  # per script file; keeps the whole set a few MB

_MO_PACKAGES = [
    "coreutils", "libglib2.0-data", "libgtk-3-common", "vlc-l10n",
    "gnome-control-center-data", "evolution-data-server-common", "nautilus-data",
    "gnome-shell-common", "aptitude-common", "iso-codes",
    "libreoffice-l10n-am", "libreoffice-l10n-ka", "libreoffice-l10n-ta", "libreoffice-l10n-bn",
    "libreoffice-l10n-th", "libreoffice-l10n-he", "libreoffice-l10n-hi", "libreoffice-l10n-el",
    "libreoffice-l10n-ar", "libreoffice-l10n-ko", "libreoffice-l10n-ja", "libreoffice-l10n-zh-cn",
    "libreoffice-l10n-ru", "libreoffice-l10n-gu", "libreoffice-l10n-pa-in",
]
_MAN_PACKAGES = [
    "manpages-de", "manpages-fr", "manpages-ru", "manpages-ja", "manpages-pl", "manpages-es",
    "manpages-it", "manpages-zh", "manpages-pt-br", "manpages-uk",
]

# Unicode script by code-point range, for letters only
_RANGES = [
    (0x0041, 0x024F, "latin"), (0x1E00, 0x1EFF, "latin"),
    (0x0370, 0x03FF, "greek"), (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"), (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0900, 0x097F, "devanagari"), (0x0980, 0x09FF, "bengali"), (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"), (0x0B80, 0x0BFF, "tamil"), (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"), (0x0D00, 0x0D7F, "malayalam"), (0x0E00, 0x0E7F, "thai"),
    (0x0E80, 0x0EFF, "lao"), (0x10A0, 0x10FF, "georgian"), (0x1200, 0x139F, "ethiopic"),
    (0x1100, 0x11FF, "hangul"), (0xAC00, 0xD7AF, "hangul"), (0x3130, 0x318F, "hangul"),
    (0x3040, 0x30FF, "kana"), (0x4E00, 0x9FFF, "han"), (0x3400, 0x4DBF, "han"),
]


def script_of(text: str) -> str | None:
    """Dominant script of the letters in ``text`` (None when no script has >= 60%)."""
    counts: dict[str, int] = defaultdict(int)
    for ch in text:
        if not (ch.isalpha() or unicodedata.category(ch).startswith("M")):
            continue
        cp = ord(ch)
        for lo, hi, name in _RANGES:
            if lo <= cp <= hi:
                counts[name] += 1
                break
    total = sum(counts.values())
    if total < 4:
        return None
    if counts.get("kana", 0) >= 2:
        return "japanese"
    name, n = max(counts.items(), key=lambda kv: kv[1])
    if name == "kana":
        return "japanese"
    return name if n >= 0.6 * total else None


def read_mo(path: Path) -> list[str]:
    """All translated strings (msgstr, plural forms split) of a GNU .mo file."""
    data = path.read_bytes()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if end is None:
        return []
    _, n, _, t_off = struct.unpack(end + "4I", data[4:20])
    out = []
    for i in range(1, n):  # entry 0 is the header
        length, off = struct.unpack(end + "2I", data[t_off + 8 * i:t_off + 8 * i + 8])
        raw = data[off:off + length]
        for part in raw.split(b"\0"):
            out.append(part.decode("utf-8", errors="replace"))
    return out


_FMT = re.compile(r"%(\d+\$)?[-+ #0]*(\d+|\*)?(\.\d+)?(l|ll|h|z|j|t|L)?[sdiouxXfFeEgGcpm%]|"
                  r"%\(\w+\)[sd]|\{[^{}]{0,40}\}|\$\{?\w+\}?|<[^<>]{1,80}>|&\w+;|\\[nt]")


_ROFF_ESCAPES = re.compile(r"\\f[BIRP1-4]|\\f\(..|\\f\[\w*\]|\\s[-+]?\d|\\[&|^%:]|\\\*\(..|\\\*\w")


def clean(s: str) -> str:
    s = _FMT.sub(" ", s)
    s = re.sub(r"(?<!\w)[_&~](?=\w)", "", s)  # accelerator marks
    s = re.sub(r"\s+", " ", s).strip(" :;|-")
    return s


def read_man(path: Path) -> list[str]:
    """Paragraphs of a roff manual page, markup removed."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except (OSError, EOFError):
        return []
    paras, cur = [], []
    for line in lines:
        if line.startswith((".", "'")):
            if re.match(r"^[.'](PP|P|LP|SH|SS|TP|IP|HP|sp|br|RS|RE|nf|fi|TH)\b", line) and cur:
                paras.append(" ".join(cur))
                cur = []
            m = re.match(r"^\.(B|I|BI|BR|IR|RB|RI|IB)\s+(.*)$", line)
            if m:
                cur.append(m.group(2).replace('"', ""))
            continue
        line = re.sub(_ROFF_ESCAPES, "", line)
        line = re.sub(r"\\\((em|en|hy)", "-", line)
        line = re.sub(r"\\\(..", "", line).replace("\\-", "-").replace("\\e", "\\")
        if line.strip():
            cur.append(line.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return paras


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(".data/text"))
    ap.add_argument("--cache", type=Path, default=Path(".data/cache"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    by_script: dict[str, dict[str, None]] = defaultdict(dict)  # ordered sets
    sources = []
    for package in _MO_PACKAGES + _MAN_PACKAGES:
        try:
            fetched = C.fetch_deb(package, args.cache)
        except RuntimeError as exc:
            LOGGER.warning("cannot fetch %s: %s", package, exc)
            continue
        n_before = sum(len(v) for v in by_script.values())
        if package in _MO_PACKAGES:
            files = sorted(fetched.root.rglob("*.mo"))
            strings = (s for f in files for s in read_mo(f))
        else:
            files = sorted(p for p in fetched.root.rglob("usr/share/man/*/man*/*") if p.is_file())
            strings = (s for f in files for s in read_man(f))
        for raw in strings:
            s = clean(raw)
            if len(s) < _MIN_CHARS or "\ufffd" in s:
                continue
            script = script_of(s)
            if script:
                by_script[script].setdefault(s, None)
        added = sum(len(v) for v in by_script.values()) - n_before
        sources.append({"package": package, "version": fetched.version,
                        "license": fetched.license, "files": len(files), "strings_added": added})
        LOGGER.info("%s: %d files, %d new strings", package, len(files), added)

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    sizes = {}
    for script in sorted(by_script):
        lines, size = [], 0
        pool = list(by_script[script])
        random.Random(0).shuffle(pool)  # mixes sources before the cap
        for s in pool:
            size += len(s.encode()) + 1
            if size > _MAX_BYTES_PER_SCRIPT:
                break
            lines.append(s)
        path = args.out / f"{script}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        sizes[script] = {"lines": len(lines), "kb": round(path.stat().st_size / 1024, 1)}
    (args.out / "text.json").write_text(json.dumps({"scripts": sizes, "sources": sources},
                                                   indent=1, ensure_ascii=False))
    for script, info in sizes.items():
        print(f"{script:12s} {info['kb']:8.1f} KB {info['lines']:7d} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
