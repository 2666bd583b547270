"""Effective robustness: each classifier's OOD top-1 against the line timm's published models trace
(``fan_det.report.effective_robustness``), per natural shift, with the fit's provenance."""

from __future__ import annotations

from fan_det.report import effective_robustness as er
from fan_det.report import plots
from fan_det.report.sections.common import model_row
from fan_det.report.tables import column, table

COLUMNS = (("id_acc", "ID top-1"), ("ood_acc", "OOD top-1"), ("predicted", "line's prediction"),
           ("effective_robustness", "effective robustness"), ("extrapolated", "extrapolated"))
TRANSFORM = "logit"


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


def effective_figures(ood_models: list[dict], effective: dict) -> dict[str, tuple[str, object]]:
    """``{figure id: (caption, matplotlib Figure)}``: timm's cloud, the line and our models, per shift."""
    figures = {}
    for shift in shifts(effective):
        points = {m["display"]: (e["id_acc"], e["ood_acc"]) for m in ood_models
                  if (e := effective["models"][m["name"]].get(shift))}
        caption = f"Effective robustness on {er.SHIFTS[shift].title}: ours against timm's models and line"
        figures[f"er-{shift}"] = (caption, plots.effective_robustness_figure(shift, points, TRANSFORM))
    return figures
