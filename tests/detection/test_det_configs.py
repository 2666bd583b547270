"""Every config in configs/ builds its model on the CPU and runs a training and an inference forward."""

from __future__ import annotations

import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

# detection configs; the segmentation ones (segformer_*) are tests/segmentation's
CONFIGS = sorted(p for p in (REPO_ROOT / "configs").rglob("*.yaml")
                 if not p.name.startswith(("Base-", "segformer_")))


def _batch(num_classes: int, with_masks: bool) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    h, w = 96, 128
    image = torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
    inst = Instances((h, w))
    inst.gt_boxes = Boxes(torch.tensor([[10.0, 12.0, 60.0, 70.0], [70.0, 20.0, 120.0, 90.0]]))
    inst.gt_classes = torch.tensor([0, num_classes - 1])
    if with_masks:
        masks = torch.zeros(2, h, w, dtype=torch.bool)
        masks[0, 12:70, 10:60] = True
        masks[1, 20:90, 70:120] = True
        inst.gt_masks = BitMasks(masks)
    return [{"image": image, "height": h, "width": w, "instances": inst}]


def test_the_configs_the_issue_asks_for_exist():
    names = {p.relative_to(REPO_ROOT / "configs").as_posix() for p in CONFIGS}
    assert "fan_retinanet.yaml" in names
    for size in ("tiny", "small", "base", "large"):
        for arch in ("COCO-Detection/faster_rcnn", "COCO-InstanceSegmentation/mask_rcnn",
                     "COCO-InstanceSegmentation/cascade_mask_rcnn"):
            assert f"{arch}_fan_{size}_hybrid_3x.yaml" in names
    assert any(n.startswith("tiny/") for n in names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(REPO_ROOT / "configs").as_posix())
def test_config_builds_and_runs(path):
    # The model as configured; only how many proposals / RoIs one forward samples is made CPU-sized.
    cfg = load_config(str(path), [
        "MODEL.DEVICE", "cpu", "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "200", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "64",
        "MODEL.RPN.PRE_NMS_TOPK_TEST", "200", "MODEL.RPN.POST_NMS_TOPK_TEST", "64",
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "64"])
    assert cfg.INPUT.FORMAT == "RGB" and list(cfg.MODEL.PIXEL_MEAN) == [123.675, 116.28, 103.53]
    assert cfg.MODEL.FAN.POS_ENCODING in ("detection", "classification")
    assert f'Positional encoding: "{cfg.MODEL.FAN.POS_ENCODING}"' in path.read_text()  # said in each config
    torch.manual_seed(0)
    model = build_model(cfg)
    meta = cfg.MODEL.META_ARCHITECTURE
    num_classes = cfg.MODEL.RETINANET.NUM_CLASSES if meta == "RetinaNet" else cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if cfg.MODEL.ROI_HEADS.NAME == "CascadeROIHeads" and meta != "RetinaNet":
        assert len(model.roi_heads.box_predictor) == 3  # the three cascade stages docs/detection.md names
    batch = _batch(num_classes, cfg.MODEL.MASK_ON)
    model.train()
    with EventStorage(0):
        losses = model(batch)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    if cfg.MODEL.MASK_ON:
        assert "loss_mask" in losses
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert len(out) == 1 and out[0]["instances"].image_size == (96, 128)


# What docs/detection.md says of each config, written out by hand from the document.
SIZES = {"tiny": "fan_tiny_8_p4_hybrid", "small": "fan_small_12_p4_hybrid", "base": "fan_base_16_p4_hybrid",
         "large": "fan_large_16_p4_hybrid"}
COCO = {"AMP": True, "GRAD_CHECKPOINTING": True, "DROP_PATH_RATE": 0.3, "NORM": "BN", "BASE_LR": 1e-4,
        "WEIGHT_DECAY": 0.05, "WEIGHT_DECAY_NORM": 0.0, "OPTIMIZER": "ADAMW", "IMS_PER_BATCH": 16,
        "DATASETS": (("coco_2017_train",), ("coco_2017_val",))}
SCHEDULE_3X = {"MAX_ITER": 270000, "STEPS": (210000, 250000), "MIN_SIZE_TRAIN": tuple(range(480, 801, 32))}
RCNN = {"META": "GeneralizedRCNN", "RPN_IN": ["p2", "p3", "p4", "p5", "p6"],
        "ROI_IN": ["p2", "p3", "p4", "p5"]}
TINY_CLAIMS = {"AMP": False, "GRAD_CHECKPOINTING": False, "DROP_PATH_RATE": 0.0, "NORM": "BN",
               "DEVICE": "cpu", "MIN_SIZE_TRAIN": (160,), "FPN_CHANNELS": 64, "ASPECT_RATIOS": [[1.0]],
               "NUM_CLASSES": 4, "DATASETS": (("fan_synth_train",), ("fan_synth_val",))}
CLAIMS = {"fan_retinanet.yaml": {**COCO, "META": "RetinaNet", "NAME": SIZES["small"], "MAX_ITER": 90000,
                                 "STEPS": (60000, 80000)}}
for size, name in SIZES.items():
    CLAIMS[f"COCO-Detection/faster_rcnn_fan_{size}_hybrid_3x.yaml"] = {
        **COCO, **SCHEDULE_3X, **RCNN, "NAME": name, "ROI_HEADS": "StandardROIHeads", "MASK_ON": False}
    CLAIMS[f"COCO-InstanceSegmentation/mask_rcnn_fan_{size}_hybrid_3x.yaml"] = {
        **COCO, **SCHEDULE_3X, **RCNN, "NAME": name, "ROI_HEADS": "StandardROIHeads", "MASK_ON": True}
    CLAIMS[f"COCO-InstanceSegmentation/cascade_mask_rcnn_fan_{size}_hybrid_3x.yaml"] = {
        **COCO, **SCHEDULE_3X, **RCNN, "NAME": name, "ROI_HEADS": "CascadeROIHeads", "CASCADE_STAGES": 3,
        "MASK_ON": True}
CLAIMS["tiny/retinanet_fan_tiny_hybrid_synth.yaml"] = {
    **TINY_CLAIMS, "META": "RetinaNet", "NAME": SIZES["tiny"], "HEAD_NORM": "GN", "BOX_LOSS": "giou"}
CLAIMS["tiny/retinanet_fan_tiny_vit_synth.yaml"] = {
    **TINY_CLAIMS, "META": "RetinaNet", "NAME": "fan_tiny_12_p16_224", "HEAD_NORM": "GN", "BOX_LOSS": "giou"}
CLAIMS["tiny/faster_rcnn_fan_tiny_hybrid_synth.yaml"] = {
    **TINY_CLAIMS, **RCNN, "NAME": SIZES["tiny"], "ROI_HEADS": "StandardROIHeads", "MASK_ON": False}


def _actual(cfg) -> dict:
    """The config values the claims speak of, under the claims' names."""
    m, s = cfg.MODEL, cfg.SOLVER
    retina = m.META_ARCHITECTURE == "RetinaNet"
    return {
        "META": m.META_ARCHITECTURE, "NAME": m.FAN.NAME, "AMP": s.AMP.ENABLED,
        "GRAD_CHECKPOINTING": m.FAN.GRAD_CHECKPOINTING, "DROP_PATH_RATE": m.FAN.DROP_PATH_RATE,
        "NORM": m.FAN.NORM, "BASE_LR": s.BASE_LR, "WEIGHT_DECAY": s.WEIGHT_DECAY,
        "WEIGHT_DECAY_NORM": s.WEIGHT_DECAY_NORM, "OPTIMIZER": s.OPTIMIZER, "IMS_PER_BATCH": s.IMS_PER_BATCH,
        "MAX_ITER": s.MAX_ITER, "STEPS": tuple(s.STEPS), "MIN_SIZE_TRAIN": tuple(cfg.INPUT.MIN_SIZE_TRAIN),
        "DATASETS": (cfg.DATASETS.TRAIN, cfg.DATASETS.TEST),
        "MASK_ON": m.MASK_ON, "ROI_HEADS": None if retina else m.ROI_HEADS.NAME,
        "CASCADE_STAGES": len(m.ROI_BOX_CASCADE_HEAD.IOUS), "RPN_IN": list(m.RPN.IN_FEATURES),
        "ROI_IN": list(m.ROI_HEADS.IN_FEATURES), "DEVICE": m.DEVICE, "FPN_CHANNELS": m.FPN.OUT_CHANNELS,
        "ASPECT_RATIOS": [list(r) for r in m.ANCHOR_GENERATOR.ASPECT_RATIOS],
        "NUM_CLASSES": m.RETINANET.NUM_CLASSES if retina else m.ROI_HEADS.NUM_CLASSES,
        "HEAD_NORM": m.RETINANET.NORM, "BOX_LOSS": m.RETINANET.BBOX_REG_LOSS_TYPE,
    }


def test_every_config_has_its_documented_claims():
    assert sorted(CLAIMS) == sorted(p.relative_to(REPO_ROOT / "configs").as_posix() for p in CONFIGS)


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_config_matches_docs(name):
    # the COCO configs ask for a GPU; the tiny ones claim the CPU themselves, so they load as written
    opts = [] if name.startswith("tiny/") else ["MODEL.DEVICE", "cpu"]
    actual = _actual(load_config(str(REPO_ROOT / "configs" / name), opts))
    assert {k: actual[k] for k in CLAIMS[name]} == CLAIMS[name]


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_config_writes_under_runs(name):
    opts = [] if name.startswith("tiny/") else ["MODEL.DEVICE", "cpu"]
    assert load_config(str(REPO_ROOT / "configs" / name), opts).OUTPUT_DIR.startswith("runs/")
