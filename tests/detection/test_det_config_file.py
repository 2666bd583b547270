"""Training and evaluation read configs through one loader: model-zoo aware, the same config for both,
and the evaluation's settings equal to the loader it replaced (restated here with detectron2's API)."""

from __future__ import annotations

import pytest
from detectron2 import model_zoo
from detectron2.config import get_cfg

from fan_det.detection.config import add_fan_config
from fan_det.detection.config_file import ConfigError
from fan_det.paths import REPO_ROOT
from fan_det.robustness.detector import load_config as eval_config
from fan_det.train import load_config as train_config

TINY = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
ZOO = "COCO-Detection/retinanet_R_50_FPN_1x.yaml"


def previous_eval_config(path: str, opts: list[str], weights: str):
    """The evaluation loader before it shared training's: file, overrides, then its own settings."""
    cfg = add_fan_config(get_cfg())
    cfg.merge_from_file(path)
    cfg.merge_from_list(opts)
    cfg.MODEL.WEIGHTS = weights
    cfg.MODEL.FAN.WEIGHTS = ""
    cfg.MODEL.DEVICE = "cpu"
    return cfg


@pytest.mark.parametrize("config,path", [(TINY, TINY), (ZOO, model_zoo.get_config_file(ZOO))])
def test_evaluation_config_equals_the_previous_loader(config, path):
    opts = ["INPUT.MIN_SIZE_TEST", "256", "OUTPUT_DIR", "runs/x"]
    loaded = eval_config(config, opts, "w.pth")
    assert loaded.dump() == previous_eval_config(path, opts, "w.pth").dump()
    assert eval_config(config, opts).MODEL.WEIGHTS == ""


def test_training_reads_model_zoo_configs_and_refuses_what_eval_refuses(tmp_path):
    cfg = train_config(ZOO, ["MODEL.DEVICE", "cpu"])
    assert cfg.MODEL.META_ARCHITECTURE == "RetinaNet" and cfg.MODEL.RESNETS.DEPTH == 50
    with pytest.raises(ConfigError, match="no config file at .*model-zoo"):
        train_config("COCO-Detection/no_such_config.yaml")
    with pytest.raises(FileNotFoundError, match="neither a file nor a detectron2 model-zoo config"):
        eval_config(str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match=r"unknown config key MODEL\.FAN\.NAMEE"):
        eval_config(TINY, ["MODEL.FAN.NAMEE", "x"])
