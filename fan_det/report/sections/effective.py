"""Effective robustness: each classifier's OOD top-1 against the line timm's published models trace
(``fan_det.report.effective_robustness``), per natural shift, with the fit's provenance. Part of the
classification section: it derives its block from the OOD models."""

from __future__ import annotations

from fan_det.report import effective_robustness as er
from fan_det.report import plots
from fan_det.report.sections.base import HeadlineColumn, Layout
from fan_det.report.sections.common import key_values, model_row
from fan_det.report.tables import column, table

COLUMNS = (("id_acc", "ID top-1"), ("ood_acc", "OOD top-1"), ("predicted", "line's prediction"),
           ("effective_robustness", "effective robustness"), ("extrapolated", "extrapolated"))
TRANSFORM = "logit"
ER_TEXT = (
    "Effective robustness (Taori et al. 2020; Miller et al. 2021): a model's OOD top-1 minus the top-1 "
    "predicted at its ID top-1 by the line through timm's published models, fitted on logit-scaled "
    "accuracies. Positive: more robust than its ImageNet accuracy predicts. ImageNet-A and -R pair with "
    "ImageNet val on their 200 classes, Sketch and V2 (matched frequency) with full ImageNet val."
)


def effective_robustness(ood_models: list[dict]) -> dict:
    """Per model and shift: ID / OOD top-1, the line's prediction and the difference; the fit's provenance.
    Empty when no model has a pair of accuracies a shift needs."""
    accuracies = {m["name"]: er.accuracies_from_ood(m["datasets"]) for m in ood_models}
    per_model = er.summarise(accuracies, TRANSFORM)
    if not any(per_model.values()):
        return {}
    return {"models": per_model, "reference": er.reference_provenance(TRANSFORM)}


def shifts(effective: dict) -> list[str]:
    """The shifts some model has a figure for, in the module's order."""
    return [s for s in er.SHIFTS if any(s in e for e in effective.get("models", {}).values())]


def effective_tables(ood_models: list[dict], effective: dict) -> list[dict]:
    tables = []
    for shift in shifts(effective):
        present = [m for m in ood_models if shift in effective["models"][m["name"]]]
        line = effective["reference"]["shifts"][shift]
        columns = [column(k, label, better=None) for k, label in COLUMNS]
        columns[3]["better"] = "higher"
        rows = [model_row(m, [effective["models"][m["name"]][shift][k] for k, _ in COLUMNS]) for m in present]
        title = (f"Effective robustness on {er.SHIFTS[shift].title}: top-1 above timm's {TRANSFORM} line "
                 f"({line['n_models']} models, R2 {line['r2']:.2f}); ID = {er.SHIFTS[shift].id_label}")
        tables.append(table(f"er-{shift}", title, columns, rows))
    return tables


def effective_block(ood: dict) -> dict:
    """``report["effective_robustness"]`` from the classification block."""
    models = ood["models"]
    effective = effective_robustness(models) if models else {}
    return {"effective_robustness": {**effective, "tables": effective_tables(models, effective)}}


def effective_figures(report: dict) -> dict:
    """``{figure id: (caption, matplotlib Figure)}``: timm's cloud, the line and our models, per shift."""
    effective = report["effective_robustness"]
    figures = {}
    for shift in shifts(effective):
        points = {m["display"]: (e["id_acc"], e["ood_acc"]) for m in report["ood"]["models"]
                  if (e := effective["models"][m["name"]].get(shift))}
        caption = f"Effective robustness on {er.SHIFTS[shift].title}: ours against timm's models and line"
        figures[f"er-{shift}"] = (caption, plots.effective_robustness_figure(shift, points, TRANSFORM))
    return figures


def effective_layout(report: dict, figures: dict[str, str]) -> Layout:
    effective = report["effective_robustness"]
    if not effective["tables"]:
        return []
    blocks: list[tuple[str, object]] = [("text", ER_TEXT), ("tables", effective["tables"])]
    blocks += [("figure", f) for f in figures if f.startswith("er-")]
    blocks += [("text", "The fit (timm's results files by content hash, the lines)"),
               ("kv", key_values(effective["reference"]))]
    return [("Effective robustness", blocks)]


def _effective(shift: str):
    def cell(m: dict, report: dict) -> tuple[object, None]:
        entry = report["effective_robustness"]["models"][m["name"]].get(shift, {})
        return entry.get("effective_robustness"), None

    return cell


def effective_headline(report: dict) -> list[HeadlineColumn]:
    """One column per shift some model has; a partial result does not make these partial."""
    return [HeadlineColumn(column(f"er/{s}", f"ER {er.SHIFTS[s].title}"), _effective(s), partial=False)
            for s in shifts(report["effective_robustness"])]
