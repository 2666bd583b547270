"""Published numbers beside ours: each reference table of ``eval/reference/`` with our rows on the same
metrics and the protocol differences stated."""

from __future__ import annotations

from fan_det.protocol import BENCHMARK
from fan_det.report.references import ReferenceTable
from fan_det.report.sections.common import model_row
from fan_det.report.tables import column, row, table


def our_value(key: str, det: dict | None, ood: dict | None) -> float | None:
    """Our number for a reference metric key ``<dataset>/<metric>``, or None."""
    dataset, _, metric = key.partition("/")
    if dataset == "detection":
        return det["summary"]["stats"].get("AP", {}).get(metric) if det else None
    if ood is None:
        return None
    metrics = ood["datasets"].get(dataset, {}).get("metrics", {})
    if key == "imagenet-c/mean_acc":
        return metrics.get("mean_acc_15")
    if key == "imagenet/error":
        return None if metrics.get("top1") is None else 100.0 - metrics["top1"]
    return metrics.get(metric)


def _ours_line(ref: ReferenceTable, m: dict, kind: str) -> str:
    if kind == "det":
        p, ds = m["protocol"], m["dataset"]
        corruptions = p.get("corruptions", [])
        n_bench = sum(c in BENCHMARK for c in corruptions)
        return (
            f"Ours ({m['display']}): {ds.get('name')} ({ds.get('num_images')} images); "
            f"{n_bench} benchmark corruptions (+{len(corruptions) - n_bench} holdout, reported apart) "
            f"x severities {p.get('severities')}, standard 15-corruption mPC, "
            f"corrupted {p.get('mode')} with imagecorruptions {p.get('imagecorruptions_version')}, "
            f"seed {p.get('seed')}; detector {m['name']} from {m['model'].get('config')}."
        )
    pre = m["preprocessing"]
    datasets = {k.partition("/")[0] for k in ref.metrics}
    sets = ", ".join(f"{d} {b.get('num_images')} images" for d, b in m["datasets"].items() if d in datasets)
    in_c = (
        "; IN-C compared as our mean top-1 over the 15 benchmark corruptions"
        if "imagenet-c/mean_acc" in ref.metrics
        else ""
    )
    return (
        f"Ours ({m['display']}): {sets}; input {pre.get('input_size')}, "
        f"crop_pct {pre.get('crop_pct')}, {pre.get('interpolation')}{in_c}."
    )


def differences(ref: ReferenceTable, ours: list[tuple[dict, str]]) -> list[str]:
    lines = [f"Theirs: {ref.protocol}."]
    for m, kind in ours:
        lines.append(_ours_line(ref, m, kind))
        if m["labels"]:
            lines.append(
                f"Ours ({m['name']}) is labelled: {', '.join(m['labels'])}: not comparable as a score."
            )
    return lines


def reference_tables(refs: list[ReferenceTable], det: list[dict], ood: list[dict]) -> list[dict]:
    out = []
    for ref in refs:
        keys = list(ref.metrics)
        rows = [
            row(f"{r['model']} (published)", [r.get(k) for k in keys], kind="published") for r in ref.rows
        ]
        ours: list[tuple[dict, str]] = []
        candidates = {"detection": [(m, "det") for m in det], "classification": [(m, "ood") for m in ood]}
        for m, kind in candidates.get(ref.task, []):
            values = [our_value(k, m if kind == "det" else None, m if kind == "ood" else None) for k in keys]
            if any(v is not None for v in values):
                same = [
                    r["model"]
                    for r in ref.rows
                    if r.get("timm_name") and m["name"].startswith(r["timm_name"])
                ]
                arch = f" (architecture of {same[0]})" if same else ""
                rows.append(model_row(m, values, label=f"ours: {m['display']}{arch}"))
                ours.append((m, kind))
        note = "" if ours else "No result of ours on these metrics."
        t = table(
            f"ref-{len(out)}", ref.name, [column(k, ref.metrics[k], None) for k in keys], rows, note=note
        )
        t.update(source=ref.source, protocol_differences=differences(ref, ours))
        out.append(t)
    return out
