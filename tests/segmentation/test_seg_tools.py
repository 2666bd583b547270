"""The FAN segmenter (the tiny SegFormer config, random weights) through detectron2's tools: tracing,
fvcore flop counting, DefaultPredictor, and a checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import DefaultPredictor
from detectron2.export import TracingAdapter
from detectron2.modeling import build_model
from detectron2.utils.analysis import FlopCountAnalysis

from fan_det.models.flops import SDPA_OP, sdpa_flop_jit
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

CONFIG = REPO_ROOT / "configs" / "tiny" / "segformer_fan_tiny_hybrid_synth.yaml"
SIZE = (64, 96)  # multiples of 32: no padding


def logits_of(model, img: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model([{"image": img}])[0]["sem_seg"]


def random_image(seed: int) -> torch.Tensor:
    """Pixel values in [0, 255), float, as the model takes them."""
    return 255 * torch.rand((3, *SIZE), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def cfg():
    return load_config(str(CONFIG), ["TEST.SEM_SEG.MODE", "whole"])


@pytest.fixture(scope="module")
def model(cfg):
    torch.manual_seed(0)
    segmenter = build_model(cfg)
    return segmenter.eval()


def test_traced_segmenter_equals_eager_on_another_image(model):
    adapter = TracingAdapter(model, [{"image": random_image(0)}]).eval()
    with torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs)
        (logits,) = traced(random_image(1))  # not the image it was traced with
    torch.testing.assert_close(logits, logits_of(model, random_image(1)))


def test_flop_count_of_the_head_by_hand(model, cfg):
    analysis = FlopCountAnalysis(model, [{"image": random_image(0)}])
    analysis.set_op_handle(SDPA_OP, sdpa_flop_jit)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_module = analysis.by_module()
    # fvcore counts one flop per multiply-add: the 1x1 layers of the decoder at the stride-4 grid
    embed, classes = cfg.MODEL.SEGFORMER.EMBED_DIM, cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
    pixels = (SIZE[0] // 4) * (SIZE[1] // 4)
    assert by_module["model.sem_seg_head.classifier"] == pixels * embed * classes
    assert by_module["model.sem_seg_head.fuse"] >= pixels * 4 * embed * embed  # the conv, plus its norm
    grids = {"res2": 4, "res3": 8, "res4": 16, "res5": 16}
    channels = {"res2": 128, "res3": 256, "res4": 192, "res5": 192}
    for i, feature in enumerate(grids):
        cells = (SIZE[0] // grids[feature]) * (SIZE[1] // grids[feature])
        assert by_module[f"model.sem_seg_head.proj.{i}"] == cells * channels[feature] * embed
    assert 0 < by_module["model.backbone"] < analysis.total()
    assert SDPA_OP not in analysis.unsupported_ops()


def test_default_predictor_loads_weights_and_returns_logits(cfg, model, tmp_path):
    torch.save({"model": model.state_dict()}, tmp_path / "segmenter.pth")
    with_weights = cfg.clone()
    with_weights.defrost()
    with_weights.MODEL.WEIGHTS = str(tmp_path / "segmenter.pth")
    predictor = DefaultPredictor(with_weights)
    h, w = 53, 77  # odd sizes: resized (96 short side, 120 at most), padded, then back to h x w
    bgr = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    logits = predictor(bgr)["sem_seg"]
    assert logits.shape == (cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, h, w)
    rgb = bgr[:, :, ::-1]
    resized = predictor.aug.get_transform(rgb).apply_image(rgb)
    tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
    with torch.no_grad():
        direct = model([{"image": tensor, "height": h, "width": w}])[0]["sem_seg"]
    torch.testing.assert_close(logits, direct)


def test_checkpoint_round_trip(cfg, model, tmp_path):
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("seg")
    torch.manual_seed(1)  # another initialisation, then the checkpoint over it
    other = build_model(cfg).eval()
    assert not torch.equal(logits_of(other, random_image(2)), logits_of(model, random_image(2)))
    DetectionCheckpointer(other).load(str(tmp_path / "seg.pth"))
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert torch.equal(logits_of(other, random_image(2)), logits_of(model, random_image(2)))
