"""python -m fan_det.eval_city_c and eval_acdc end to end on the CPU (detectron2's semantic FPN with an
R-18 trunk, random weights, small inputs): segmentation.json / acdc.json agree with the cached per-image
matrices scored independently, a rerun reuses every cell, and bad inputs are refused before inference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fan_det.data.register import register_tiny_datasets
from fan_det.eval_acdc import main as acdc_cli
from fan_det.eval_city_c import main as cli
from fan_det.results import AcdcResult, SegmentationResult

SOURCE = "fan_synth_seg_val"
DATASET = "fan_synth_seg_val_first6"
MODEL = ["--config", "Misc/semantic_R_50_FPN_1x.yaml", "--random-init", "--workers", "0"]
OPTS = ["MODEL.SEM_SEG_HEAD.NUM_CLASSES", "5", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64",
        "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"]


@pytest.fixture(scope="module", autouse=True)
def six_images(one_torch_thread):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    register_tiny_datasets()
    if DATASET not in DatasetCatalog.list():
        DatasetCatalog.register(DATASET, lambda: DatasetCatalog.get(SOURCE)[:6])
        meta = {k: v for k, v in MetadataCatalog.get(SOURCE).as_dict().items() if k != "name"}
        MetadataCatalog.get(DATASET).set(**meta)


def _miou_by_hand(matrix: np.ndarray) -> float:
    """IoU_c = TP / (row + column - TP) over the classes with ground truth, averaged; 0-100."""
    ious = [matrix[c, c] / (matrix[c, :].sum() + matrix[:, c].sum() - matrix[c, c])
            for c in range(len(matrix)) if matrix[c, :].sum() > 0]
    return 100.0 * sum(ious) / len(ious)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("city_c")
    argv = [*MODEL, "--dataset", DATASET, "--corruptions", "fog", "--severities", "1,3", "--allow-partial",
            "--bootstrap", "20", "--out", str(out), *OPTS]
    cli(argv)
    first = SegmentationResult.load(out / "segmentation.json").doc
    cli(argv)
    return out, first


def test_document_agrees_with_the_cached_matrices(run):
    from fan_det.robustness.sem_seg import matrices_from_bytes

    out, doc = run
    assert [(c["corruption"], c["severity"]) for c in doc["cells"]] == [("clean", 0), ("fog", 1), ("fog", 3)]
    (cache,) = [p for p in (out / "cells").iterdir() if p.is_dir()]
    for cell in doc["cells"]:
        matrices = matrices_from_bytes((cache / f"{cell['corruption']}-{cell['severity']}.matrices.npz")
                                       .read_bytes())
        assert matrices.shape == (6, 5, 5)
        assert cell["stats"]["mIoU"] == pytest.approx(_miou_by_hand(matrices.sum(axis=0)), abs=1e-9)
    block = doc["summary"]["stats"]["mIoU"]
    fog = [c["stats"]["mIoU"] for c in doc["cells"] if c["corruption"] == "fog"]
    assert block["P"] == doc["cells"][0]["stats"]["mIoU"] and block["mPC"] == pytest.approx(np.mean(fog))
    assert block["rPC"] == pytest.approx(100 * block["mPC"] / block["P"])
    assert doc["summary"]["partial"] and doc["protocol"]["name"] == "fan-city-c"
    assert block["P_ci"][0] <= block["P_ci"][1] and doc["protocol"]["bootstrap"]["resamples"] == 20
    assert "mPC_ci" not in block  # the protocol's full grid was not evaluated
    assert len(doc["dataset"]["classes"]) == 5 and doc["dataset"]["classes"][0] == "background"


def test_rerun_reuses_every_cell(run):
    out, first = run
    (log_file,) = out.glob("cells/*/log.jsonl")
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert events == ["evaluated"] * 3 + ["reused"] * 3
    again = SegmentationResult.load(out / "segmentation.json").doc
    assert again["cells"] == first["cells"] and again["summary"] == first["summary"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--corruptions", "fog"], "lacks 54 cell"),  # no --allow-partial: the rest of fan-city-c is missing
    (["--corruptions", "fog", "--severities", "5", "--allow-partial"], "severity 5 not in protocol"),
    (["--protocol", "city-c-16", "--corruptions", "zoom_blur", "--allow-partial"], "zoom_blur not in"),
])
def test_plans_outside_the_protocol_are_refused(capsys, tmp_path, extra, message):
    with pytest.raises(SystemExit):
        cli([*MODEL, "--dataset", DATASET, *extra, "--out", str(tmp_path), *OPTS])
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_model_of_another_class_count_is_refused_before_inference(capsys, tmp_path):
    opts = [*OPTS[:1], "7", *OPTS[2:]]
    with pytest.raises(SystemExit):
        cli([*MODEL, "--dataset", DATASET, "--corruptions", "fog", "--allow-partial", "--out", str(tmp_path),
             *opts])
    err = capsys.readouterr().err
    assert "has 5 classes but the model predicts 7" in err
    assert not (tmp_path / "cells").exists()


def test_a_materialised_copy_of_another_seed_is_refused_with_the_flag(capsys, tmp_path):
    from fan_det.build_corrupted import main as build

    assert build(["--dataset", DATASET, "--corruptions", "fog", "--severities", "1", "--seed", "3",
                  "--out", str(tmp_path / "copy"), "--no-progress"]) == 0
    with pytest.raises(SystemExit):
        cli([*MODEL, "--dataset", DATASET, "--corruptions", "fog", "--severities", "1", "--allow-partial",
             "--city-c-root", str(tmp_path / "copy"), "--seed", "0", "--out", str(tmp_path / "o"), *OPTS])
    err = capsys.readouterr().err
    assert "disagrees with seed 3" in err and "--city-c-root" in err


def test_acdc_on_the_tiny_restyled_set(tmp_path):
    acdc_cli([*MODEL, "--tiny", "--conditions", "night", "--bootstrap", "10", "--out", str(tmp_path), *OPTS])
    doc = AcdcResult.load(tmp_path / "acdc.json").doc
    summary = doc["summary"]
    assert list(doc["conditions"]) == ["night"] and summary["partial"]
    assert summary["missing"] == ["fog", "rain", "snow"] and "mean_ci" not in summary
    assert summary["mean"] == doc["conditions"]["night"]["stats"]["mIoU"]
    assert set(summary["per_condition_ci"]) == {"night"}
    assert doc["conditions"]["night"]["num_images"] == 40
    (log,) = (tmp_path / "conditions" / "night").glob("*/log.jsonl")
    assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == ["evaluated"]
