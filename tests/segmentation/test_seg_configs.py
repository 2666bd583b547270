"""The segmentation configs: the authors' recipe as docs/segmentation.md states it, and each builds and
runs a training and an inference forward on the CPU."""

from __future__ import annotations

import pytest
import torch
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from fan_det.detection import build_fan_trunk
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

CONFIGS = sorted(p for p in (REPO_ROOT / "configs").rglob("segformer_*.yaml"))
# built and run: the smallest trunk (the others differ only in MODEL.FAN.NAME, checked without weights)
RUN = ("Cityscapes/segformer_fan_tiny_hybrid.yaml", "tiny/segformer_fan_tiny_hybrid_synth.yaml")
# docs/segmentation.md, "Configs": the authors' values, written out by hand
SIZES = {"tiny": ("fan_tiny_8_p4_hybrid", 192), "small": ("fan_small_12_p4_hybrid", 384),
         "base": ("fan_base_16_p4_hybrid", 448), "large": ("fan_large_16_p4_hybrid", 480)}
RECIPE = {"MAX_ITER": 160_000, "IMS_PER_BATCH": 8, "CROP": (1024, 1024), "CAT_MAX": 0.75,
          "SCALE": (0.5, 2.0), "TARGET": (1024, 2048), "FLIP": "horizontal", "PHOTOMETRIC": True,
          "OPTIMIZER": "ADAMW", "BASE_LR": 6e-5, "WEIGHT_DECAY": 0.01, "WEIGHT_DECAY_NORM": 0.0,
          "SCHEDULER": "WarmupPolyLR", "POWER": 1.0, "WARMUP": 1500, "HEAD_LR": 10.0, "HEAD_NORM": "SyncBN",
          "EMBED": 768, "DROPOUT": 0.1, "CLASSES": 19, "MODE": "slide", "WINDOW": (1024, 1024),
          "STRIDE": (768, 768), "LAYOUT": "segmentation", "POS": "detection",
          "DATASETS": (("cityscapes_fine_sem_seg_train",), ("cityscapes_fine_sem_seg_val",))}


def _actual(cfg) -> dict:
    s, i = cfg.SOLVER, cfg.INPUT
    return {"MAX_ITER": s.MAX_ITER, "IMS_PER_BATCH": s.IMS_PER_BATCH, "CROP": tuple(i.CROP.SIZE),
            "CAT_MAX": i.CROP.SINGLE_CATEGORY_MAX_AREA, "SCALE": tuple(i.RESIZE_SCALE.RANGE),
            "TARGET": tuple(i.RESIZE_SCALE.TARGET), "FLIP": i.RANDOM_FLIP, "PHOTOMETRIC": i.PHOTOMETRIC,
            "OPTIMIZER": s.OPTIMIZER, "BASE_LR": s.BASE_LR, "WEIGHT_DECAY": s.WEIGHT_DECAY,
            "WEIGHT_DECAY_NORM": s.WEIGHT_DECAY_NORM, "SCHEDULER": s.LR_SCHEDULER_NAME,
            "POWER": s.POLY_LR_POWER, "WARMUP": s.WARMUP_ITERS, "HEAD_LR": s.HEAD_LR_FACTOR,
            "HEAD_NORM": cfg.MODEL.SEM_SEG_HEAD.NORM, "EMBED": cfg.MODEL.SEGFORMER.EMBED_DIM,
            "DROPOUT": cfg.MODEL.SEGFORMER.DROPOUT, "CLASSES": cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES,
            "MODE": cfg.TEST.SEM_SEG.MODE, "WINDOW": tuple(cfg.TEST.SEM_SEG.CROP_SIZE),
            "STRIDE": tuple(cfg.TEST.SEM_SEG.STRIDE), "LAYOUT": cfg.MODEL.FAN.LAYOUT,
            "POS": cfg.MODEL.FAN.POS_ENCODING, "DATASETS": (cfg.DATASETS.TRAIN, cfg.DATASETS.TEST)}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_cityscapes_configs_carry_the_authors_recipe(size):
    path = REPO_ROOT / "configs" / "Cityscapes" / f"segformer_fan_{size}_hybrid.yaml"
    cfg = load_config(str(path), ["MODEL.DEVICE", "cpu"])
    assert _actual(cfg) == RECIPE
    assert cfg.MODEL.FAN.NAME == SIZES[size][0]
    with torch.device("meta"):  # the trunk's maps, without weights
        shapes = build_fan_trunk(cfg).output_shape()
    embed = SIZES[size][1]
    assert [(s.channels, s.stride) for s in shapes.values()] == [(128, 4), (256, 8), (embed, 16), (embed, 16)]
    assert cfg.OUTPUT_DIR.startswith("runs/")
    assert f'Positional encoding: "{cfg.MODEL.FAN.POS_ENCODING}"' in path.read_text()


def test_the_tiny_config_trains_on_the_tiny_set_with_sliding_windows():
    cfg = load_config(str(REPO_ROOT / "configs" / "tiny" / "segformer_fan_tiny_hybrid_synth.yaml"))
    assert (cfg.DATASETS.TRAIN, cfg.DATASETS.TEST) == (("fan_synth_seg_train",), ("fan_synth_seg_val",))
    assert cfg.MODEL.DEVICE == "cpu" and cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES == 5
    assert cfg.TEST.SEM_SEG.MODE == "slide" and cfg.TEST.SEM_SEG.STRIDE[0] < cfg.TEST.SEM_SEG.CROP_SIZE[0]


def test_every_segmentation_config_is_checked():
    assert {p.relative_to(REPO_ROOT / "configs").as_posix() for p in CONFIGS} == {
        *RUN, *(f"Cityscapes/segformer_fan_{size}_hybrid.yaml" for size in SIZES)}


@pytest.mark.parametrize("name", RUN)
def test_config_builds_and_runs(name):
    """Training and inference forwards at a small size (the trunk's maps, head and loss as configured),
    with the Cityscapes windows shrunk to the image."""
    cfg = load_config(str(REPO_ROOT / "configs" / name), [
        "MODEL.DEVICE", "cpu", "TEST.SEM_SEG.CROP_SIZE", "(64, 64)", "TEST.SEM_SEG.STRIDE", "(48, 48)"])
    torch.manual_seed(0)
    model = build_model(cfg)
    gen = torch.Generator().manual_seed(0)
    label = torch.randint(0, cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, (64, 96), generator=gen)
    label[:8] = 255
    batch = [{"image": torch.randint(0, 256, (3, 64, 96), generator=gen, dtype=torch.uint8), "sem_seg": label,
              "height": 64, "width": 96}]
    model.train()
    with EventStorage(0):
        losses = model(batch)
    assert list(losses) == ["loss_sem_seg"] and torch.isfinite(losses["loss_sem_seg"])
    model.eval()
    with torch.no_grad():
        out = model([{k: v for k, v in batch[0].items() if k != "sem_seg"}])
    assert out[0]["sem_seg"].shape == (cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, 64, 96)
