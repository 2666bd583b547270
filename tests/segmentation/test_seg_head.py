"""SegFormer's head against the decoder equations written out independently (Xie et al. 2021, Sec. 3.2),
and detectron2's own SemSegFPNHead on the FAN segmentation trunk."""

from __future__ import annotations

import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_sem_seg_head

from fan_det.detection import add_fan_config
from fan_det.segmentation import SegFormerHead

SHAPES = {"res2": ShapeSpec(channels=6, stride=4), "res3": ShapeSpec(channels=10, stride=8),
          "res4": ShapeSpec(channels=12, stride=16), "res5": ShapeSpec(channels=12, stride=16)}


def bilinear(x: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """Bilinear resize with half-pixel centres (align_corners=False), as separable 1-D interpolation
    matrices: out = Ry @ x @ Rx^T."""
    def matrix(n_in: int, n_out: int) -> torch.Tensor:
        m = torch.zeros(n_out, n_in, dtype=torch.float64)
        for o in range(n_out):
            src = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
            lo = min(int(src), n_in - 1)
            hi = min(lo + 1, n_in - 1)
            frac = src - lo
            m[o, lo] += 1 - frac
            m[o, hi] += frac
        return m
    ry, rx = matrix(x.shape[-2], out_h), matrix(x.shape[-1], out_w)
    return torch.einsum("oh,nchw,pw->ncop", ry, x, rx)


def decoder_equations(head: SegFormerHead, maps: list[torch.Tensor]) -> torch.Tensor:
    """F_i' = W_i F_i + b_i; F_i'' = Upsample(H/4 x W/4)(F_i'); F = ReLU(BN(W_f concat(F_i'')));
    M = W_c F + b_c (eval mode: dropout is the identity, BN uses its running statistics)."""
    h, w = maps[0].shape[-2:]
    upsampled = []
    for proj, x in zip(head.proj, maps, strict=True):
        y = torch.einsum("dc,nchw->ndhw", proj.weight.double(), x) + proj.bias.double()[:, None, None]
        upsampled.append(bilinear(y, h, w))
    cat = torch.cat(upsampled, dim=1)
    bn = head.fuse.norm
    fused = torch.einsum("dk,nkhw->ndhw", head.fuse.weight.double()[:, :, 0, 0], cat)
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    fused = torch.relu((fused - bn.running_mean.double()[:, None, None]) * scale[:, None, None]
                       + bn.bias.double()[:, None, None])
    return (torch.einsum("kd,ndhw->nkhw", head.classifier.weight.double()[:, :, 0, 0], fused)
            + head.classifier.bias.double()[:, None, None])


def _random_head() -> SegFormerHead:
    torch.manual_seed(0)
    head = SegFormerHead(SHAPES, num_classes=7, embed_dim=16, dropout=0.1, norm="BN")
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        head.fuse.norm.running_mean.copy_(torch.randn(16))
        head.fuse.norm.running_var.copy_(torch.rand(16) + 0.5)
    return head.double().eval()


def test_head_equals_the_decoder_equations():
    head = _random_head()
    gen = torch.Generator().manual_seed(1)
    maps = [torch.randn(2, 6, 12, 20, generator=gen, dtype=torch.float64),
            torch.randn(2, 10, 6, 10, generator=gen, dtype=torch.float64),
            torch.randn(2, 12, 3, 5, generator=gen, dtype=torch.float64),
            torch.randn(2, 12, 3, 5, generator=gen, dtype=torch.float64)]
    features = dict(zip(SHAPES, maps, strict=True))
    with torch.no_grad():
        at_stride4 = head.layers(features)
        logits, losses = head(features)
    expected = decoder_equations(head, maps)
    torch.testing.assert_close(at_stride4, expected, rtol=0, atol=1e-6)
    # the logits come back at the input size (stride 4 x 4), bilinearly upsampled
    torch.testing.assert_close(logits, bilinear(expected, 48, 80), rtol=0, atol=1e-6)
    assert losses == {}


def test_loss_is_cross_entropy_without_the_ignored_pixels():
    head = _random_head().train()
    gen = torch.Generator().manual_seed(2)
    maps = {f: torch.randn(1, s.channels, 16 // s.stride * 2, 16 // s.stride * 2, generator=gen,
                           dtype=torch.float64) for f, s in SHAPES.items()}
    targets = torch.randint(0, 7, (1, 32, 32), generator=gen)
    targets[0, :5] = 255
    torch.manual_seed(3)
    _, losses = head(maps, targets)
    torch.manual_seed(3)  # the same dropout mask
    logits = torch.nn.functional.interpolate(head.layers(maps), scale_factor=4, mode="bilinear")
    keep = targets != 255
    log_p = torch.log_softmax(logits, dim=1).permute(0, 2, 3, 1)[keep]
    expected = -log_p[torch.arange(len(log_p)), targets[keep]].mean()
    torch.testing.assert_close(losses["loss_sem_seg"], expected.float())  # computed in float32, as with AMP


def test_heads_come_from_the_registry_on_the_fan_segmentation_trunk():
    """SegFormerHead and detectron2's SemSegFPNHead both build from a config on the trunk's four maps."""
    from fan_det.detection import build_fan_trunk

    cfg = add_fan_config(get_cfg())
    cfg.MODEL.FAN.NAME = "fan_tiny_8_p4_hybrid"
    cfg.MODEL.FAN.LAYOUT = "segmentation"
    cfg.MODEL.SEM_SEG_HEAD.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = 5
    cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM = 32
    cfg.MODEL.SEGFORMER.EMBED_DIM = 32
    torch.manual_seed(0)
    trunk = build_fan_trunk(cfg).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        features = trunk(x)
        for name in ("SegFormerHead", "SemSegFPNHead"):
            cfg.MODEL.SEM_SEG_HEAD.NAME = name
            head = build_sem_seg_head(cfg, trunk.output_shape()).eval()
            logits, _ = head(features)
            assert type(head).__name__ == name
            assert logits.shape == (1, 5, 64, 96)
