"""Vector geodata container: features as NumPy rings/lines, and readers for the file formats.

A :class:`Layer` holds many features (countries, provinces, roads, ...), each a list of
parts (rings or lines) with float32 x/y (lon/lat degrees, or planar units for projected
sources), a name and a few numeric attributes. Layers are stored side by side in one
compact ``.npz`` (see :func:`save_layers` / :func:`load_layers`).

Readers here need only NumPy and the standard library: ESRI shapefile + dBASE tables,
GMT multi-segment text (as written by ``gmt coast -M``), and GeoJSON.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Layer:
    """Features of one kind. ``parts[i]`` is the list of (N, 2) arrays of feature ``i``."""
    name: str
    kind: str                      # "polygon" | "line" | "point"
    crs: str                       # "lonlat" | "planar"
    parts: list[list[np.ndarray]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    attrs: dict[str, np.ndarray] = field(default_factory=dict)   # numeric, one per feature
    tags: list[str] = field(default_factory=list)                # class (road type, group)

    def __len__(self) -> int:
        return len(self.parts)

    def bboxes(self) -> np.ndarray:
        """(F, 4) xmin, ymin, xmax, ymax of each feature."""
        out = np.zeros((len(self.parts), 4), np.float32)
        for i, ps in enumerate(self.parts):
            xy = np.concatenate(ps) if ps else np.zeros((1, 2), np.float32)
            out[i] = (*xy.min(0), *xy.max(0))
        return out

    def subset(self, idx) -> "Layer":
        idx = list(idx)
        return Layer(self.name, self.kind, self.crs, [self.parts[i] for i in idx],
                     [self.names[i] for i in idx],
                     {k: v[idx] for k, v in self.attrs.items()},
                     [self.tags[i] for i in idx] if self.tags else [])


def simplify(xy: np.ndarray, tol: float) -> np.ndarray:
    """Snap to a ``tol`` grid and drop consecutive repeats (vectorised radial simplification)."""
    if tol <= 0 or len(xy) < 4:
        return xy.astype(np.float32)
    q = np.round(xy / tol)
    keep = np.ones(len(xy), bool)
    keep[1:] = np.any(q[1:] != q[:-1], axis=1)
    keep[-1] = True
    return xy[keep].astype(np.float32)


def save_layers(path: Path, layers: list[Layer]) -> None:
    """Write layers into one ``.npz``: per layer the flat coordinates and offsets."""
    arrs: dict[str, np.ndarray] = {}
    meta = []
    for L in layers:
        flat = [p for ps in L.parts for p in ps]
        arrs[f"{L.name}.xy"] = (np.concatenate(flat).astype(np.float32) if flat
                                else np.zeros((0, 2), np.float32))
        arrs[f"{L.name}.part_len"] = np.array([len(p) for p in flat], np.int32)
        arrs[f"{L.name}.feat_parts"] = np.array([len(ps) for ps in L.parts], np.int32)
        for k, v in L.attrs.items():
            arrs[f"{L.name}.attr.{k}"] = np.asarray(v, np.float64)
        meta.append({"name": L.name, "kind": L.kind, "crs": L.crs, "names": L.names,
                     "tags": L.tags, "attrs": list(L.attrs)})
    arrs["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    tmp = Path(str(path) + ".tmp.npz")
    np.savez_compressed(tmp, **arrs)
    tmp.replace(path)


def load_layers(path: Path) -> dict[str, Layer]:
    z = np.load(path)
    meta = json.loads(bytes(z["meta"]).decode())
    out = {}
    for m in meta:
        n = m["name"]
        xy, plen, fparts = z[f"{n}.xy"], z[f"{n}.part_len"], z[f"{n}.feat_parts"]
        rings = np.split(xy, np.cumsum(plen)[:-1]) if len(plen) else []
        fo = np.concatenate([[0], np.cumsum(fparts)])
        parts = [rings[fo[i]:fo[i + 1]] for i in range(len(fparts))]
        attrs = {k: z[f"{n}.attr.{k}"] for k in m["attrs"]}
        out[n] = Layer(n, m["kind"], m["crs"], parts, m["names"], attrs, m["tags"])
    return out


# -- readers ------------------------------------------------------------------------------

def read_dbf(path: Path) -> list[dict]:
    """dBASE III table as a list of dicts (numbers parsed, text decoded as UTF-8/latin-1)."""
    data = Path(path).read_bytes()
    nrec, hlen, rlen = struct.unpack("<IHH", data[4:12])
    fields = []
    pos = 32
    while data[pos] != 0x0D:
        name = data[pos:pos + 11].split(b"\0")[0].decode("latin-1")
        ftype = chr(data[pos + 11])
        flen = data[pos + 16]
        fields.append((name, ftype, flen))
        pos += 32
    rows = []
    for r in range(nrec):
        off = hlen + r * rlen + 1
        row = {}
        for name, ftype, flen in fields:
            raw = data[off:off + flen]
            off += flen
            try:
                s = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                s = raw.decode("latin-1").strip()
            if ftype in "NF":
                try:
                    row[name] = float(s)
                except ValueError:
                    row[name] = float("nan")
            else:
                row[name] = s
        rows.append(row)
    return rows


def read_shp(path: Path) -> list[list[np.ndarray]]:
    """Shapefile geometries: for each record the list of parts (rings/lines/points)."""
    data = Path(path).read_bytes()
    pos = 100
    out = []
    while pos + 8 <= len(data):
        clen = struct.unpack(">I", data[pos + 4:pos + 8])[0] * 2
        rec = data[pos + 8:pos + 8 + clen]
        pos += 8 + clen
        st = struct.unpack("<i", rec[:4])[0]
        if st == 0:
            out.append([])
        elif st in (1, 11, 21):
            out.append([np.frombuffer(rec[4:20], "<f8").reshape(1, 2).astype(np.float32)])
        elif st in (3, 5, 13, 15, 23, 25):
            npart, npt = struct.unpack("<ii", rec[36:44])
            starts = list(np.frombuffer(rec[44:44 + 4 * npart], "<i4")) + [npt]
            p0 = 44 + 4 * npart
            pts = np.frombuffer(rec[p0:p0 + 16 * npt], "<f8").reshape(npt, 2)
            out.append([pts[starts[i]:starts[i + 1]].astype(np.float32)
                        for i in range(npart) if starts[i + 1] - starts[i] > 1])
        elif st in (8, 18, 28):
            npt = struct.unpack("<i", rec[36:40])[0]
            pts = np.frombuffer(rec[40:40 + 16 * npt], "<f8").reshape(npt, 2)
            out.append([p.reshape(1, 2).astype(np.float32) for p in pts])
        else:
            out.append([])
    return out


def read_gmt_segments(text: str) -> list[tuple[str, np.ndarray]]:
    """GMT multi-segment text: (header, (N, 2) array) per ``>`` segment."""
    segs = []
    head, rows = None, []
    for line in text.splitlines():
        if line.startswith(">"):
            if head is not None and len(rows) > 1:
                segs.append((head, np.array(rows, np.float32)))
            head, rows = line[1:].strip(), []
        elif line and not line.startswith("#"):
            a = line.split()
            rows.append((float(a[0]), float(a[1])))
    if head is not None and len(rows) > 1:
        segs.append((head, np.array(rows, np.float32)))
    return segs


def read_geojson(path: Path) -> list[tuple[dict, list[np.ndarray]]]:
    """(properties, parts) per GeoJSON feature (outer rings and lines; points as 1-row parts)."""
    fc = json.loads(Path(path).read_text())
    out = []
    for f in fc.get("features", []):
        g = f.get("geometry") or {}
        t, c = g.get("type"), g.get("coordinates")
        parts: list = []
        if t == "Polygon":
            parts = [np.array(r, np.float32)[:, :2] for r in c]
        elif t == "MultiPolygon":
            parts = [np.array(r, np.float32)[:, :2] for poly in c for r in poly]
        elif t == "LineString":
            parts = [np.array(c, np.float32)[:, :2]]
        elif t == "MultiLineString":
            parts = [np.array(r, np.float32)[:, :2] for r in c]
        elif t == "Point":
            parts = [np.array([c[:2]], np.float32)]
        out.append((f.get("properties") or {}, parts))
    return out


def ring_area(xy: np.ndarray) -> float:
    """Signed shoelace area (positive = counter-clockwise in x-right/y-up axes)."""
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def label_point(parts: list[np.ndarray]) -> np.ndarray:
    """A point to put a feature's label on: the area centroid of its largest ring."""
    if not parts:
        return np.zeros(2, np.float32)
    big = max(parts, key=lambda p: abs(ring_area(p)) if len(p) > 2 else 0.0)
    if len(big) < 3:
        return big.mean(0)
    x, y = big[:, 0].astype(np.float64), big[:, 1].astype(np.float64)
    cr = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cr.sum() / 2
    if abs(a) < 1e-12:
        return big.mean(0)
    cx = ((x + np.roll(x, -1)) * cr).sum() / (6 * a)
    cy = ((y + np.roll(y, -1)) * cr).sum() / (6 * a)
    return np.array([cx, cy], np.float32)
