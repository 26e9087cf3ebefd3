"""Code shared by the benchmark scripts: generated test images, memory and CPU accounting, tables."""

from __future__ import annotations

import csv
import json
import os
import platform
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("RAYROT_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))
OUT = REPO / "benchmarks" / "out"


def dev_paths(category: str | None = None) -> list[Path]:
    with open(DEV / "manifest.csv") as fh:
        return [DEV / r["file"] for r in csv.DictReader(fh) if category in (None, r["category"])]


def make_pyramid(side_px: int, path: Path, categories=("documents", "maps", "photos"),
                 rotate_k: int = 0, cell_px: int = 1024) -> Path:
    """A square pyramidal BigTIFF with JPEG tiles, a mosaic of upright dev images (cached)."""
    import pyvips

    if path.exists():
        return path
    paths = [p for c in categories for p in dev_paths(c)]
    cells = []
    for p in paths:
        img = pyvips.Image.thumbnail(str(p), cell_px - 32, height=cell_px - 32, size="down")
        img = img.colourspace("srgb")
        img = img.flatten(background=[255, 255, 255]) if img.hasalpha() else img
        img = img[:3] if img.bands > 3 else img
        cells.append(img.gravity("centre", cell_px, cell_px, extend="white").copy_memory())
    n = -(-side_px // cell_px)
    grid = [cells[(i * 7) % len(cells)] for i in range(n * n)]
    img = pyvips.Image.arrayjoin(grid, across=n).crop(0, 0, side_px, side_px)
    img = [img, img.rot270(), img.rot180(), img.rot90()][rotate_k % 4]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    img.tiffsave(str(tmp), tile=True, tile_width=512, tile_height=512, pyramid=True,
                 compression="jpeg", Q=85, bigtiff=True)
    os.replace(tmp, path)
    return path


class PeakMemory:
    """Samples the memory of this process and all its descendants (the driver, and a local
    Ray's raylet, GCS and workers) in a background thread.

    Two sums, each with its own peak:

    * ``peak_bytes``: summed RSS, every ``interval_s``. Pages shared between processes (Ray's
      object store, shared libraries, torch mapped by every worker) are counted once per
      process that maps them, so this overstates the tree's footprint.
    * ``peak_pss_bytes``: summed PSS (proportional set size, ``/proc/PID/smaps_rollup``),
      every ``pss_interval_s``: each shared page is split between the processes that map it,
      so the sum over a process tree counts every page once. This is the honest figure, and
      the one the memory targets are judged on. Reading smaps_rollup walks each process's
      page tables (about 40 ms of CPU for a driver and Ray with two torch actors), so it is
      sampled less often than RSS, to keep the sampler's own cost near 10 % of one core.
    """

    def __init__(self, interval_s: float = 0.1, pss_interval_s: float = 0.5):
        import psutil

        self._psutil = psutil
        self.interval_s = interval_s
        self.pss_interval_s = pss_interval_s
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.n_samples = 0
        self.timeline: list[tuple[float, int, int]] = []  # (seconds from start, RSS, PSS) per PSS sample
        self.peak_detail: list[tuple[str, int]] = []  # (process name, PSS) at the PSS peak
        self._stop = threading.Event()

    @staticmethod
    def _pss(pid: int) -> int:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _procs(self) -> list:
        me = self._psutil.Process()
        return [me, *me.children(recursive=True)]

    def _sample(self, pss: bool = True) -> tuple[int, int]:
        """(summed RSS, summed PSS or 0) over the tree, bytes."""
        rss_sum = pss_sum = 0
        self._last_detail = []
        for p in self._procs():
            try:
                rss_sum += p.memory_info().rss
                if pss:
                    one = self._pss(p.pid)
                    pss_sum += one
                    self._last_detail.append((p.name(), one))
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied, OSError):
                pass
        return rss_sum, pss_sum

    def _update(self, pss: bool = True):
        rss_sum, pss_sum = self._sample(pss)
        self.peak_bytes = max(self.peak_bytes, rss_sum)
        if pss_sum > self.peak_pss_bytes:
            self.peak_pss_bytes = pss_sum
            self.peak_detail = self._last_detail
        self.n_samples += 1
        if pss:
            self.timeline.append((time.monotonic() - self._t0, rss_sum, pss_sum))

    def _run(self):
        next_pss = time.monotonic() + self.pss_interval_s
        while not self._stop.wait(self.interval_s):
            due = time.monotonic() >= next_pss
            if due:
                next_pss = time.monotonic() + self.pss_interval_s
            self._update(pss=due)

    def __enter__(self):
        self._t0 = time.monotonic()
        self._update()
        self.baseline_bytes, self.baseline_pss_bytes = self.timeline[-1][1:]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update()
        self.end_bytes, self.end_pss_bytes = self.timeline[-1][1:]

    def peak_summary(self) -> str:
        """Process names and their PSS (MB) at the PSS peak, largest first."""
        return ", ".join(f"{name} {pss / 1e6:.0f}"
                         for name, pss in sorted(self.peak_detail, key=lambda d: -d[1]))


def print_table(rows: list[dict], columns: list[str]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "" if v is None else str(v)


def write_json(name: str, payload) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


# Ray processes that carry a "ray::" title but do no scoring.
_RAY_DAEMONS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def cpu_seconds(tree: bool) -> tuple[float, float]:
    """CPU seconds (user + system) so far: (everything, everything but Ray's daemons).

    Counts this process and its reaped children (a tesseract run); with ``tree`` also every
    live descendant, i.e. a local Ray's worker processes (named ``ray::...``, where the
    scoring happens) and its daemons (raylet, gcs_server, ...: bookkeeping that a long run
    on a cluster would not charge to one image). Threads (ONNX Runtime, torch) are included.
    """
    t = os.times()
    total = core = t.user + t.system + t.children_user + t.children_system
    if tree:
        import psutil
        for p in psutil.Process().children(recursive=True):
            try:
                c = p.cpu_times()
                name = p.name()
                cmd = " ".join(p.cmdline()[:1])
            except psutil.Error:
                continue
            total += c.user + c.system
            title = name if name.startswith("ray::") else cmd
            if title.startswith("ray::") and title not in _RAY_DAEMONS:
                core += c.user + c.system
    return total, core


class TreeCpu:
    """CPU seconds (everything, everything but Ray's daemons; as :func:`cpu_seconds`) that
    this process and its descendants spend inside a ``with`` block, counting the processes
    that exit during it: rayrot stops its scoring actors before ``detect()`` returns, and
    a reading taken after it would miss them. Each process is sampled every ``interval_s``,
    so one that exits is charged up to its last sample (at most ``interval_s`` lost).
    """

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s
        self.total = self.core = 0.0
        self._start: dict = {}
        self._last: dict = {}
        self._stop = threading.Event()

    def _sample(self) -> dict:
        import psutil

        seen = {}
        for p in psutil.Process().children(recursive=True):
            try:
                c = p.cpu_times()
                key = (p.pid, p.create_time())
                name = p.name()
                title = name if name.startswith("ray::") else " ".join(p.cmdline()[:1])
            except psutil.Error:
                continue
            seen[key] = (c.user + c.system, title.startswith("ray::") and title not in _RAY_DAEMONS)
        return seen

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._last.update(self._sample())

    def __enter__(self) -> "TreeCpu":
        t = os.times()
        self._own = t.user + t.system + t.children_user + t.children_system
        self._start = self._sample()
        self._last = dict(self._start)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system - self._own
        self.total = self.core = own
        for key, (seconds, is_worker) in self._last.items():
            spent = seconds - self._start.get(key, (0.0, False))[0]
            self.total += spent
            if is_worker:
                self.core += spent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
