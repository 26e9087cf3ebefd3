"""The tables of ``benchmarks/accuracy.py``: its per-case records summarised per group of cases
(category, tilted pages, the dev maps by kind) and written as markdown."""

from __future__ import annotations

import statistics
from pathlib import Path

CONFIDENT = 0.9  # "confidently wrong" = confidence >= this and wrong


def summarize(records: list[dict]) -> dict:
    """Metrics of one method on one group of cases (see the module docstring)."""
    n = len(records)
    if n == 0:
        return {"n": 0}
    right = [r["angle"] == r["truth"] for r in records]
    answered = [r["angle"] is not None for r in records]
    has_conf = any(r["confidence"] is not None for r in records)
    conf_wrong = sum(1 for r, ok in zip(records, right) if r["angle"] is not None and not ok
                     and r["confidence"] is not None and r["confidence"] >= CONFIDENT)
    n_ans = sum(answered)
    walls = [r["wall_s"] for r in records]
    out = {
        "n": n,
        "images": len({r["file"] for r in records}),
        "correct": sum(right),
        "accuracy": sum(right) / n,
        "answered": n_ans,
        "answer_rate": n_ans / n,
        "accuracy_answered": (sum(right) / n_ans) if n_ans else None,
        "confidently_wrong": conf_wrong if has_conf else None,
        "confidently_wrong_rate": (conf_wrong / n) if has_conf else None,
        "wall_s_mean": statistics.fmean(walls),
        "wall_s_median": statistics.median(walls),
        "cpu_s_mean": statistics.fmean(r["cpu_s"] for r in records),
        "accuracy_by_k": {str(90 * k): _acc([r for r in records if r["k"] == k]) for k in range(4)},
        "confusion": _confusion(records),
    }
    if any("cpu_s_no_daemons" in r for r in records):
        out["cpu_s_no_daemons_mean"] = statistics.fmean(r.get("cpu_s_no_daemons", 0.0) for r in records)
    if any("model_s" in r for r in records):
        out["model_s_mean"] = statistics.fmean(r.get("model_s", 0.0) for r in records)
    return out


def _acc(rs: list[dict]) -> float | None:
    return sum(r["angle"] == r["truth"] for r in rs) / len(rs) if rs else None


def _confusion(records: list[dict]) -> dict:
    """truth -> answer -> count ("none" for no answer)."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        row = out.setdefault(str(r["truth"]), {})
        key = "none" if r["angle"] is None else str(r["angle"])
        row[key] = row.get(key, 0) + 1
    return out


# The dev maps by kind, from the source named in each file's name (first match wins).
MAP_KINDS = (("_grass_", "GIS: rasters with legends, relief, vectors"),
             ("_kgeography_", "political, unlabelled"), ("_gcompris_", "political, unlabelled"),
             ("_routing-", "street maps, labelled"), ("_mapview-", "street maps, labelled"),
             ("_marble_", "Earth imagery"), ("_cartopy_", "Earth imagery"))


def map_kind(file: str) -> str:
    return next((kind for token, kind in MAP_KINDS if token in Path(file).name), "other")


def groups_of(records: list[dict], categories: tuple[str, ...]) -> dict[str, list[dict]]:
    """Records per category (plain and +skew), the maps also per kind (``MAP_KINDS``), plus
    "all" over the plain categories."""
    names = [c for c in categories] + [c + "+skew" for c in categories]
    groups = {g: [r for r in records if r["category"] == g] for g in names}
    for kind in dict.fromkeys(k for _, k in MAP_KINDS + (("", "other"),)):
        groups[f"maps: {kind}"] = [r for r in groups.get("maps", ()) if map_kind(r["file"]) == kind]
    groups = {g: rs for g, rs in groups.items() if rs}
    groups["all"] = [r for r in records if r["category"] in categories]
    return groups


def _secs(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def markdown(summary: dict, statuses: dict) -> str:
    lines = []
    for group, per in summary.items():
        any_m = next(iter(per.values()))
        lines.append(f"\n### {group} ({any_m['n']} cases = {any_m['images']} images x 4 turns)\n")
        lines.append("| method | accuracy | answered | acc. if answered | conf. wrong (>=0.9) "
                     "| wall s/img | CPU s/img | CPU s/img excl. Ray daemons |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, s in per.items():
            cw = "n/a" if s["confidently_wrong"] is None else \
                f"{_pct(s['confidently_wrong_rate'])} ({s['confidently_wrong']})"
            lines.append(f"| {name} | {_pct(s['accuracy'])} ({s['correct']}/{s['n']}) "
                         f"| {_pct(s['answer_rate'])} | {_pct(s['accuracy_answered'])} | {cw} "
                         f"| {s['wall_s_mean']:.3f} | {s['cpu_s_mean']:.3f} "
                         f"| {_secs(s.get('cpu_s_no_daemons_mean'))} |")
    skipped = {m: st["message"] for m, st in statuses.items() if st["status"] != "ok"}
    if skipped:
        lines.append("")
        for m, msg in skipped.items():
            lines.append(f"- `{m}` skipped: {msg}")
    return "\n".join(lines)
