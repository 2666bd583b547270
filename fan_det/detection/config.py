"""The config keys FAN detection adds to detectron2's defaults (one place, as detectron2 projects do)."""

from __future__ import annotations

from detectron2.config import CfgNode as CN


def add_fan_config(cfg: CN) -> CN:
    """Add ``cfg.MODEL.FAN.*`` and the AdamW / layer-decay solver keys; returns ``cfg`` for chaining.

    Call it before ``merge_from_file``: detectron2 then rejects any key typo in a YAML file.
    """
    cfg.MODEL.FAN = CN()
    # A timm FAN name (see `timm.list_models("fan_*")`), e.g. fan_small_12_p4_hybrid.
    cfg.MODEL.FAN.NAME = "fan_small_12_p4_hybrid"
    # Trunk maps for hybrids (res2..res5 = strides 4..32); ViT variants always give res4.
    cfg.MODEL.FAN.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    # FAN block whose tokens are res4 (0-based); -1 = the variant's published index (7 / 9 / 15 / 18).
    cfg.MODEL.FAN.OUT_INDEX = -1
    cfg.MODEL.FAN.DROP_PATH_RATE = 0.0
    # "detection": frequencies 10000 ** (i / 32), as the original detection code computed them;
    # "classification": 10000 ** (2 * floor(i / 2) / 32), as the ImageNet models were trained.
    cfg.MODEL.FAN.POS_ENCODING = "detection"
    cfg.MODEL.FAN.GRAD_CHECKPOINTING = False
    # What happens to the trunk's BatchNorm layers: "BN" (train them), "FrozenBN", "SyncBN" (multi-GPU).
    cfg.MODEL.FAN.NORM = "BN"
    # ImageNet FAN checkpoint for the trunk: a path, a URL or a timm tag ("" = random init).
    cfg.MODEL.FAN.WEIGHTS = ""
    # "detection": res5 = a new 3x3 stride-2 conv on the final tokens (stride 32); "segmentation" (hybrids,
    # as the original segmentation code): res5 = the final tokens themselves (C channels, stride 16).
    cfg.MODEL.FAN.LAYOUT = "detection"
    # Channels of the new 3x3 stride-2 conv that makes res5 from the final tokens.
    cfg.MODEL.FAN.RES5_CHANNELS = 768
    # Norm of the ViTDet simple feature pyramid used for the ViT variants.
    cfg.MODEL.FAN.SIMPLE_FPN_NORM = "LN"

    cfg.SOLVER.OPTIMIZER = "ADAMW"  # or "SGD"
    cfg.SOLVER.BETAS = (0.9, 0.999)
    # Parameters named with any of these (besides norms and biases) get no weight decay.
    cfg.SOLVER.NO_DECAY_KEYWORDS = ["pos_embed", "cls_token", "temperature"]
    # Layer-wise lr decay over the FAN blocks: lr * LAYER_DECAY ** (depth + 1 - layer); 1.0 = off.
    cfg.SOLVER.LAYER_DECAY = 1.0
    # lr multiplier of every parameter outside the backbone (the heads); SegFormer trains its head at x10.
    cfg.SOLVER.HEAD_LR_FACTOR = 1.0
    # LR_SCHEDULER_NAME "WarmupPolyLR": lr * (1 - iter / MAX_ITER) ** POLY_LR_POWER after the warm-up.
    cfg.SOLVER.POLY_LR_POWER = 1.0

    # Semantic segmentation (fan_det.segmentation). SegFormer head: decoder embedding size and dropout.
    cfg.MODEL.SEGFORMER = CN()
    cfg.MODEL.SEGFORMER.EMBED_DIM = 768
    cfg.MODEL.SEGFORMER.DROPOUT = 0.1
    # Training resize: a random factor in RANGE of the TARGET (height, width) size, keeping the aspect
    # ratio (off: detectron2's MIN_SIZE_TRAIN resize); crops where no class covers more than the fraction.
    cfg.INPUT.RESIZE_SCALE = CN()
    cfg.INPUT.RESIZE_SCALE.ENABLED = False
    cfg.INPUT.RESIZE_SCALE.RANGE = (0.5, 2.0)
    cfg.INPUT.RESIZE_SCALE.TARGET = (1024, 2048)
    cfg.INPUT.CROP.SINGLE_CATEGORY_MAX_AREA = 1.0
    # Random brightness, contrast and saturation (each with probability 0.5).
    cfg.INPUT.PHOTOMETRIC = False
    # Inference: "whole" image, or "slide" windows of CROP_SIZE (height, width) every STRIDE pixels.
    cfg.TEST.SEM_SEG = CN()
    cfg.TEST.SEM_SEG.MODE = "whole"
    cfg.TEST.SEM_SEG.CROP_SIZE = (1024, 1024)
    cfg.TEST.SEM_SEG.STRIDE = (768, 768)

    # torch intra-op threads per process (0 = torch's default, one per core). CPU results depend on it
    # in the last bits: same SEED + config + CPU_THREADS = the same weights.
    cfg.CPU_THREADS = 0
    return cfg
