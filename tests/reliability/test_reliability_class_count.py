"""A model whose heads predict another number of classes than the dataset has is refused before any
inference, by every tool, with one line naming the config key to change (one shared check)."""

from __future__ import annotations

import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog

from fan_det.eval_coco_c import main as eval_coco_c
from fan_det.robustness import job as job_module
from fan_det.robustness.options import OptionError

DATASET = "fan_synth_val_mini"  # 4 categories
ZOO_RETINANET = "COCO-Detection/retinanet_R_50_FPN_1x.yaml"  # 80 classes
TINY_RCNN = "configs/tiny/faster_rcnn_fan_tiny_hybrid_synth.yaml"  # 4 classes


@pytest.fixture
def no_inference(monkeypatch):
    """Reaching the evaluation itself means the check came too late."""
    def refuse(*args, **kwargs):
        raise AssertionError("inference started: the class count was not checked first")
    monkeypatch.setattr(job_module, "run_job", refuse)


@pytest.mark.parametrize("config, overrides, key, heads", [
    (ZOO_RETINANET, [], "MODEL.RETINANET.NUM_CLASSES", 80),  # more classes than the dataset
    (TINY_RCNN, ["MODEL.ROI_HEADS.NUM_CLASSES", "3"], "MODEL.ROI_HEADS.NUM_CLASSES", 3),  # fewer
])
def test_eval_coco_c_refuses_another_class_count_before_inference(tmp_path, capsys, no_inference, config,
                                                                   overrides, key, heads):
    with pytest.raises(SystemExit) as info:
        eval_coco_c(["--config", config, "--random-init", "--dataset", DATASET, "--corruptions", "fog",
                     "--severities", "1", "--allow-partial", "--workers", "0", "--out", str(tmp_path / "o"),
                     *overrides])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert info.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert f"{DATASET} has 4 categories but the detector predicts {heads} ({key})" in errors[0]
    assert f"set {key} 4" in errors[0]
    assert not (tmp_path / "o" / "cells").exists()


def test_the_check_is_general_segmentation_names_its_own_key():
    from fan_det.robustness.detector import check_num_classes  # the one check every tool calls

    name = "rela_stuff_set"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, list)
        MetadataCatalog.get(name).set(stuff_classes=["sky", "road", "grass"])
    cfg = get_cfg()
    cfg.MODEL.META_ARCHITECTURE = "SemanticSegmentor"
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = 54
    with pytest.raises(OptionError, match=r"has 3 categories but the detector predicts 54 "
                                         r"\(MODEL.SEM_SEG_HEAD.NUM_CLASSES\); .* set "
                                         r"MODEL.SEM_SEG_HEAD.NUM_CLASSES 3"):
        check_num_classes(cfg, name)
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = 3
    check_num_classes(cfg, name)  # equal counts pass
