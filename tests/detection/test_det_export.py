"""The FAN detector (the tiny FAN-T-Hybrid RetinaNet config, random weights) through detectron2's
deployment tools: tracing, ONNX export, fvcore flop counting and DefaultPredictor.

Detection scores are thresholded at 0 so that every image gives the full 100 detections to compare.
"""

import io

import numpy as np
import pytest
import torch
from detectron2.engine import DefaultPredictor
from detectron2.export import TracingAdapter
from detectron2.modeling import build_model
from detectron2.utils.analysis import FlopCountAnalysis

from fan_det.models.flops import SDPA_OP, sdpa_flop_jit
from fan_det.paths import REPO_ROOT
from fan_det.train import load_config

CONFIG = REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml"
OPTS = ["MODEL.RETINANET.SCORE_THRESH_TEST", "0.0", "MODEL.FPN.OUT_CHANNELS", "32"]
SIZE = (128, 160)  # multiples of the trunk's size divisibility (32): no padding, exact flop ratios


@pytest.fixture(autouse=True, scope="module")
def single_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def cfg():
    return load_config(str(CONFIG), OPTS)


@pytest.fixture(scope="module")
def model(cfg):
    torch.manual_seed(0)
    return build_model(cfg).eval()


def image(seed: int, size: tuple[int, int] = SIZE) -> torch.Tensor:
    return torch.randint(0, 256, (3, *size), generator=torch.Generator().manual_seed(seed)).float()


def eager(model, img: torch.Tensor):
    with torch.no_grad():
        return model([{"image": img}])[0]["instances"]


def test_traced_detector_equals_eager_on_another_image(model):
    adapter = TracingAdapter(model, [{"image": image(0)}]).eval()
    with torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs)
        boxes, classes, scores, _ = traced(image(1))  # not the image it was traced with
    expected = eager(model, image(1))
    assert len(expected) == 100
    torch.testing.assert_close(boxes, expected.pred_boxes.tensor)
    torch.testing.assert_close(scores, expected.scores)
    assert torch.equal(classes, expected.pred_classes)


def test_onnx_export_runs_like_eager(model):
    import onnx  # a [dev] extra: torch's exporter needs it to write the file
    from onnx.reference import ReferenceEvaluator

    # eval: the exporter restores the adapter's mode afterwards, and with it the shared model's
    adapter = TracingAdapter(model, [{"image": image(0)}]).eval()
    buffer = io.BytesIO()
    names = ["boxes", "classes", "scores", "image_size"]  # the adapter's flattened Instances
    with torch.no_grad():
        torch.onnx.export(adapter, adapter.flattened_inputs, buffer, dynamo=False, opset_version=17,
                          input_names=["image"], output_names=names)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto)
    assert [o.name for o in proto.graph.output] == names
    # onnx's own reference interpreter runs the exported graph on an image it was not exported with
    boxes, classes, scores, _ = ReferenceEvaluator(proto).run(None, {"image": image(1).numpy()})
    expected = eager(model, image(1))
    np.testing.assert_allclose(boxes, expected.pred_boxes.tensor.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(scores, expected.scores.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(classes, expected.pred_classes.numpy())


def set_fused(model, fused: bool) -> None:
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = fused


def flops(model, img: torch.Tensor, sdpa_handle: bool = True) -> FlopCountAnalysis:
    analysis = FlopCountAnalysis(model, [{"image": img}])
    if sdpa_handle:
        analysis.set_op_handle(SDPA_OP, sdpa_flop_jit)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis


def test_flop_count(model):
    analysis = flops(model, image(0))
    total = analysis.total()
    trunk = analysis.by_module()["model.backbone.bottom_up"]
    assert 0 < trunk < total
    assert SDPA_OP not in analysis.unsupported_ops()
    assert flops(model, image(1)).total() == total  # content does not change the count
    # 4x the area: every counted op is a conv, linear or matmul over pixels or tokens, linear in the area
    # or (attention) quadratic, so at least 4x
    assert flops(model, image(0, (2 * SIZE[0], 2 * SIZE[1]))).total() >= 4 * total

    # the fused-attention handle counts what fvcore counts on the explicit softmax(QK^T)V path ...
    set_fused(model, False)
    try:
        explicit = flops(model, image(0), sdpa_handle=False)
        assert explicit.total() == total and SDPA_OP not in explicit.unsupported_ops()
    finally:
        set_fused(model, True)
    # ... and without it fvcore skips every attention (8 FAN blocks + 2 class-attention blocks)
    bare = flops(model, image(0), sdpa_handle=False)
    assert bare.total() < total and bare.unsupported_ops()[SDPA_OP] == 10


def test_default_predictor_loads_weights_and_returns_instances(cfg, model, tmp_path):
    weights = tmp_path / "model.pth"
    torch.save({"model": model.state_dict()}, weights)
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.WEIGHTS = str(weights)
    predictor = DefaultPredictor(cfg)
    h, w = 97, 131  # odd sizes: resized (160 short side, 200 at most), then padded to multiples of 32
    bgr = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    instances = predictor(bgr)["instances"]

    assert instances.image_size == (h, w)
    assert set(instances.get_fields()) == {"pred_boxes", "scores", "pred_classes"}
    assert 0 < len(instances) <= cfg.TEST.DETECTIONS_PER_IMAGE  # empty boxes after rescaling are dropped
    boxes = instances.pred_boxes.tensor
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 3] <= h).all() and (boxes[:, 2] >= boxes[:, 0]).all()
    assert set(instances.pred_classes.tolist()) <= set(range(cfg.MODEL.RETINANET.NUM_CLASSES))
    assert (instances.scores[:-1] >= instances.scores[1:]).all() and (instances.scores <= 1).all()

    # the predictor is the saved model: the same input through the model directly gives the same result
    rgb = bgr[:, :, ::-1]
    assert predictor.input_format == "RGB"  # the model's format: the predictor flips the BGR input
    resized = predictor.aug.get_transform(rgb).apply_image(rgb)
    tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
    with torch.no_grad():
        direct = model([{"image": tensor, "height": h, "width": w}])[0]["instances"]
    torch.testing.assert_close(instances.pred_boxes.tensor, direct.pred_boxes.tensor)
    torch.testing.assert_close(instances.scores, direct.scores)
