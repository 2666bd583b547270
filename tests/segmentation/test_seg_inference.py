"""Sliding-window inference: the window layout, overlap averaging, and equality with whole-image
inference when one window covers the image (odd sizes, images smaller than the crop)."""

from __future__ import annotations

import pytest
import torch

from fan_det.segmentation import SlidingWindowError, average_windows, window_spans
from fan_det.segmentation.sliding import check_sliding


def test_window_spans_by_hand():
    assert window_spans(10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert window_spans(11, 4, 3) == [(0, 4), (3, 7), (6, 10), (7, 11)]  # the last one moved back to the edge
    assert window_spans(3, 4, 3) == [(0, 3)]  # smaller than the crop: one window of its own size
    assert window_spans(4, 4, 2) == [(0, 4)]
    assert window_spans(2048, 1024, 768) == [(0, 1024), (768, 1792), (1024, 2048)]  # Cityscapes width


def test_overlapping_logits_are_averaged():
    """Each window predicts a constant map (its own number): every pixel gets the mean of the numbers of
    the windows covering it, checked against a hand-made map."""
    image = torch.zeros(1, 5, 7)
    calls = []

    def predict(window):
        calls.append(tuple(window.shape[-2:]))
        return torch.full((1, *window.shape[-2:]), float(len(calls)))

    logits = average_windows(image, (3, 4), (2, 3), predict)
    # rows: windows (0,3), (2,5); columns: (0,4), (3,7) -> windows 1 (r0,c0), 2 (r0,c1), 3 (r1,c0), 4 (r1,c1)
    expected = torch.tensor([
        [1, 1, 1, 1.5, 2, 2, 2],
        [1, 1, 1, 1.5, 2, 2, 2],
        [2, 2, 2, 2.5, 3, 3, 3],  # row 2 lies in both rows of windows: (1+3)/2, (1+2+3+4)/4, (2+4)/2
        [3, 3, 3, 3.5, 4, 4, 4],
        [3, 3, 3, 3.5, 4, 4, 4],
    ])
    assert calls == [(3, 4)] * 4
    torch.testing.assert_close(logits[0], expected)


@pytest.mark.parametrize(("crop", "stride", "message"), [
    ((512, 512), (768, 768), "exceeds CROP_SIZE"),
    ((512, 512), (0, 256), "must be positive"),
    ((0, 512), (256, 256), "must be positive"),
])
def test_unworkable_windows_are_refused(crop, stride, message):
    with pytest.raises(SlidingWindowError, match=message):
        check_sliding("slide", crop, stride)
    check_sliding("whole", crop, stride)  # not used in whole-image mode


def test_unknown_mode_is_refused():
    with pytest.raises(SlidingWindowError, match="TEST.SEM_SEG.MODE"):
        check_sliding("tiles", (4, 4), (2, 2))


@pytest.fixture(scope="module")
def model():
    from detectron2.modeling import build_model

    from fan_det.paths import REPO_ROOT
    from fan_det.train import load_config

    cfg = load_config(str(REPO_ROOT / "configs/tiny/segformer_fan_tiny_hybrid_synth.yaml"))
    torch.manual_seed(0)
    return build_model(cfg).eval()


@pytest.mark.parametrize("size", [(45, 70), (64, 64), (97, 61)])
def test_one_window_covering_the_image_is_whole_image_inference(model, size):
    """Odd sizes and images smaller than the crop: a window at least as large as the image gives exactly
    the whole-image logits; a smaller window gives other logits of the same shape."""
    image = torch.randint(0, 256, (3, *size), generator=torch.Generator().manual_seed(sum(size))).float()
    inputs = [{"image": image, "height": size[0] + 3, "width": size[1] - 5}]  # resized to the original
    with torch.no_grad():
        model.mode = "whole"
        whole = model(inputs)[0]["sem_seg"]
        model.mode, model.crop_size, model.stride = "slide", (128, 128), (96, 96)
        slide = model(inputs)[0]["sem_seg"]
        model.crop_size, model.stride = (32, 32), (24, 24)
        tiled = model(inputs)[0]["sem_seg"]
    assert whole.shape == (5, size[0] + 3, size[1] - 5)
    assert torch.equal(slide, whole)
    assert tiled.shape == whole.shape and not torch.allclose(tiled, whole)
