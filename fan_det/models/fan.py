"""FAN: Fully Attentional Networks

Paper: `Understanding The Robustness in Vision Transformers` - https://arxiv.org/abs/2204.12451
(Zhou et al., ICML 2022).

A FAN block is self-attention (token mixing) followed by *channel processing*: instead of a plain MLP,
an MLP of the tokens is gated per sample and per channel by a sigmoid of token statistics. Written from
the paper and the released checkpoints' key layouts, not from the authors' code. What is special here:
* every variant's state_dict is key-, shape- and dtype-identical to the authors' checkpoints;
* timm's own blocks are reused where they are key- and number-identical (XCiT's class attention,
  Fourier positional encoding, conv patch embed and LPI; ConvNeXt stages; EfficientNet's SE);
* token mixing goes through `scaled_dot_product_attention`;
* `forward_intermediates` is the one way to dense maps: for hybrids the ConvNeXt stages (stride 4 and 8)
  come first, then every FAN block (stride 16), so `features_only=True` gives stride-4/8/16 maps. The
  stride-32 conv of the original detection code is not part of the model: it belongs to the detection
  wrapper;
* the model scripts with TorchScript and traces with torch.fx (no postponed annotations in this file:
  TorchScript cannot resolve them).
"""

from functools import partial
from typing import Any, Final

import torch
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import DropPath, LayerNorm2d, trunc_normal_, use_fused_attn
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._features import feature_take_indices
from timm.models._manipulate import checkpoint
from timm.models.convnext import ConvNeXtStage
from timm.models.xcit import LPI, ClassAttentionBlock, ConvPatchEmbed, PositionalEncodingFourier
from torch import nn

from fan_det.models.checkpoint import CheckpointMismatchError, check_keys, unwrap_state_dict

__all__ = ["Fan", "TokenMixing", "ChannelProcessing", "FanBlock", "POS_ENCODINGS"]

POS_ENCODINGS = ("classification", "detection")


class PositionalEncodingFourierDetection(PositionalEncodingFourier):
    """The Fourier encoding as the original detection code computed it: frequencies 10000 ** (i / 32).

    The classification formula (timm's `PositionalEncodingFourier`) uses 10000 ** (2 * floor(i / 2) / 32);
    checkpoints fine-tuned for detection by the authors saw this variant. Returns (B, C, H, W).
    """

    def forward(self, B: int, H: int, W: int) -> torch.Tensor:
        device = self.token_projection.weight.device
        y = torch.arange(1, H + 1, device=device, dtype=torch.float32)
        x = torch.arange(1, W + 1, device=device, dtype=torch.float32)
        y = (y / (y[-1] + self.eps) * self.scale)[:, None].expand(H, W)
        x = (x / (x[-1] + self.eps) * self.scale)[None, :].expand(H, W)
        freq = self.temperature ** (torch.arange(self.hidden_dim, device=device, dtype=torch.float32)
                                    / self.hidden_dim)
        pos_y, pos_x = y[..., None] / freq, x[..., None] / freq
        pos_y = torch.stack([pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()], dim=3).flatten(2)
        pos_x = torch.stack([pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()], dim=3).flatten(2)
        pos = torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1)[None]
        pos = self.token_projection(pos.to(self.token_projection.weight.dtype))
        return pos.repeat(B, 1, 1, 1)


class TokenMixing(nn.Module):
    """Multi-head self-attention with separate `q` and `kv` projections. (B, N, C) -> (B, N, C)."""

    fused_attn: Final[bool]

    def __init__(
            self,
            dim: int,
            num_heads: int = 8,
            qkv_bias: bool = True,
            attn_drop: float = 0.,
            proj_drop: float = 0.,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.fused_attn = use_fused_attn()
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        h, d = self.num_heads, C // self.num_heads
        q = self.q(x).reshape(B, N, h, d).transpose(1, 2)
        k, v = self.kv(x).reshape(B, N, 2, h, d).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class DWConvMlp(nn.Module):
    """fc1 -> x + gamma * DWConv(x) -> fc2 on tokens of an H x W grid. (B, N, C) -> (B, N, C).

    There is no activation between fc1 and fc2: the only non-linearity is the GELU inside the
    depthwise-conv branch (timm's `LPI`: dw 3x3 conv -> GELU -> BatchNorm -> dw 3x3 conv).
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(hidden_features))
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.dwconv = LPI(hidden_features)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        return self._mlp(x, H, W)

    def _mlp(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = self.fc1(x)
        x = x + self.gamma * self.dwconv(x, H, W)
        return self.drop(self.fc2(self.drop(x)))


class SEMlp(DWConvMlp):
    """`DWConvMlp` followed by a squeeze-excite over channels (ratio 0.25), for the `_se_attn` variant."""

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.):
        super().__init__(in_features, hidden_features, drop)
        self.se = SqueezeExcite(in_features, rd_ratio=0.25)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = self._mlp(x, H, W)  # not super().forward: TorchScript has no super()
        B, N, C = x.shape
        x = self.se(x.transpose(1, 2).reshape(B, C, H, W))
        return x.reshape(B, C, N).transpose(1, 2)


class ChannelProcessing(nn.Module):
    """FAN's efficient channel self-attention: a sigmoid gate per sample and channel on an MLP of tokens.

    q = softmax over tokens of Linear_q(x), k = softmax over tokens of x itself, averaged over the head
    channels; gate = sigmoid(q^T k) * temperature (one (d,) vector per head);
    output = gate * norm_v(mlp_v(x)), with no output projection.
    (B, N, C) tokens of an H x W grid -> (B, N, C).
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, mlp_ratio: float = 4.,
                 drop: float = 0.):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.mlp_v = DWConvMlp(dim, int(dim * mlp_ratio), drop=drop)
        self.norm_v = nn.LayerNorm(dim, eps=1e-5)  # the one LayerNorm in FAN with eps 1e-5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        h, d = self.num_heads, C // self.num_heads
        v = self.norm_v(self.mlp_v(x, H, W)).reshape(B, N, h, d).transpose(1, 2)      # (B, h, N, d)
        q = self.q(x).reshape(B, N, h, d).transpose(1, 2).softmax(dim=-2)             # (B, h, N, d)
        k = x.reshape(B, N, h, d).transpose(1, 2).softmax(dim=-2).mean(-1, keepdim=True)  # (B, h, N, 1)
        gate = torch.sigmoid(q.transpose(-2, -1) @ k) * self.temperature               # (B, h, d, 1)
        return (v * gate.transpose(-2, -1)).transpose(1, 2).reshape(B, N, C)


class FanBlock(nn.Module):
    """x + gamma1 * TokenMixing(LN(x)), then x + gamma2 * ChannelProcessing(LN(x)) (or an SE MLP)."""

    def __init__(
            self,
            dim: int,
            num_heads: int,
            mlp_ratio: float = 4.,
            qkv_bias: bool = True,
            proj_drop: float = 0.,
            attn_drop: float = 0.,
            drop_path: float = 0.,
            eta: float = 1.,
            se_mlp: bool = False,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = TokenMixing(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        if se_mlp:
            self.mlp = SEMlp(dim, int(dim * mlp_ratio), drop=proj_drop)
        else:
            self.mlp = ChannelProcessing(
                dim, num_heads, qkv_bias=qkv_bias, mlp_ratio=mlp_ratio, drop=proj_drop)
        self.gamma1 = nn.Parameter(eta * torch.ones(dim))
        self.gamma2 = nn.Parameter(eta * torch.ones(dim))

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.gamma2 * self.mlp(self.norm2(x), H, W))


class ConvNeXtTrunk(nn.Module):
    """ConvNeXt stem (4x4/4 conv + channel LN) and two stages, 128 ch at stride 4 and 256 ch at stride 8.

    (B, 3, H, W) -> [stage 1 map (B, 128, H/4, W/4), stage 2 map (B, 256, H/8, W/8)].
    """

    def __init__(
            self,
            in_chans: int = 3,
            depths: tuple[int, int] = (3, 3),
            dims: tuple[int, int] = (128, 256),
    ):
        super().__init__()
        self.dims = dims
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0]))
        stage = partial(ConvNeXtStage, ls_init_value=1e-6, conv_mlp=True, norm_layer=LayerNorm2d)
        self.stages = nn.Sequential(
            stage(dims[0], dims[0], stride=1, depth=depths[0]),
            stage(dims[0], dims[1], stride=2, depth=depths[1]),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs: list[torch.Tensor] = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


class HybridEmbed(nn.Module):
    """ConvNeXt trunk then a 2x2/2 conv to C: (B, 3, H, W) -> tokens (B, H/16 * W/16, C) and the grid.

    Same return type as timm's `ConvPatchEmbed`, so the model's forward treats both stems alike;
    `forward_intermediates` calls `backbone` and `project` separately to keep the stage maps.
    """

    def __init__(self, embed_dim: int, in_chans: int = 3, depths: tuple[int, int] = (3, 3)):
        super().__init__()
        self.backbone = ConvNeXtTrunk(in_chans, depths)
        self.proj = nn.Conv2d(self.backbone.dims[-1], embed_dim, kernel_size=2, stride=2)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """The last stage map (B, 256, H/8, W/8) -> tokens (B, N, C) and their grid."""
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        return self.project(self.backbone(x)[-1])


def tokens_to_map(x: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Tokens (B, H * W, C) of an H x W grid -> an NCHW map (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], -1, H, W).contiguous()


class Fan(nn.Module):
    """Fully Attentional Network: conv or ConvNeXt-hybrid patch embed, FAN blocks, class-attention blocks.

    Feature index space (`feature_info`, `forward_intermediates`, `features_only`): hybrids first list
    their two ConvNeXt stages (128 ch / stride 4, 256 ch / stride 8), then every FAN block (C ch / stride
    16); plain ViT variants list the FAN blocks only.
    """

    def __init__(
            self,
            img_size: int = 224,
            in_chans: int = 3,
            num_classes: int = 1000,
            global_pool: str = 'token',
            embed_dim: int = 384,
            depth: int = 12,
            num_heads: int = 8,
            mlp_ratio: float = 4.,
            qkv_bias: bool = True,
            drop_rate: float = 0.,
            pos_drop_rate: float = 0.,
            proj_drop_rate: float = 0.,
            attn_drop_rate: float = 0.,
            drop_path_rate: float = 0.,
            cls_attn_layers: int = 2,
            eta: float = 1.,
            se_mlp: bool = False,
            hybrid_depths: tuple[int, int] | None = None,
            head_init_scale: float = 1.,
            pos_encoding: str = 'classification',
            dense_out_index: int | None = None,
    ):
        """
        Args:
            hybrid_depths: ConvNeXt stage depths of the hybrid stem; None for the conv patch embed.
            drop_path_rate: the same rate in every FAN block (no linear ramp), none in class attention.
            pos_encoding: 'classification' (timm/XCiT formula) or 'detection' (original detection code).
            dense_out_index: the FAN block (0-based) whose tokens are the stride-16 detection map by
                default (the original detection code's choice; `features_only`'s default for hybrids).
        """
        super().__init__()
        if global_pool not in ('', 'token', 'avg'):
            raise ValueError(f"global_pool must be '', 'token' or 'avg', got {global_pool!r}")
        if pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {pos_encoding!r}")
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.pos_encoding = pos_encoding
        self.dense_out_index = depth - 1 if dense_out_index is None else dense_out_index
        self.grad_checkpointing = False
        # a plain attribute, not a property: TorchScript compiles properties
        self.is_hybrid = hybrid_depths is not None

        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if hybrid_depths is None:
            self.patch_embed = ConvPatchEmbed(img_size, patch_size=16, in_chans=in_chans, embed_dim=embed_dim)
            self.feature_info = []
        else:
            self.patch_embed = HybridEmbed(embed_dim, in_chans, hybrid_depths)
            self.feature_info = [
                dict(num_chs=dim, reduction=4 * 2 ** i, module=f'patch_embed.backbone.stages.{i}')
                for i, dim in enumerate(self.patch_embed.backbone.dims)]
        self.num_stage_features = len(self.feature_info)
        if pos_encoding == 'classification':
            self.pos_embed = PositionalEncodingFourier(dim=embed_dim)
        else:
            self.pos_embed = PositionalEncodingFourierDetection(dim=embed_dim)
        self.pos_drop = nn.Dropout(pos_drop_rate)
        self.blocks = nn.ModuleList([
            FanBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, proj_drop_rate, attn_drop_rate,
                     drop_path_rate, eta, se_mlp)
            for _ in range(depth)
        ])
        self.feature_info += [
            dict(num_chs=embed_dim, reduction=16, module=f'blocks.{i}') for i in range(depth)]
        self.cls_attn_blocks = nn.ModuleList([
            ClassAttentionBlock(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, proj_drop=drop_rate,
                                attn_drop=attn_drop_rate, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                                eta=eta, tokens_norm=True)
            for _ in range(cls_attn_layers)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

        trunc_normal_(self.cls_token, std=.02)
        self.apply(self._init_weights)
        if isinstance(self.head, nn.Linear):
            self.head.weight.data.mul_(head_init_scale)
            self.head.bias.data.mul_(head_init_scale)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Class token, positional encoding and the channel-attention temperatures (full names)."""
        return {'cls_token'} | {
            name for name, _ in self.named_parameters()
            if name.startswith('pos_embed.') or name.endswith('.temperature')
        }

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r'^cls_token|pos_embed|patch_embed',
            blocks=r'^blocks\.(\d+)',
            cls_attn_blocks=[(r'^cls_attn_blocks\.(\d+)', None), (r'^norm', (99999,))],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable
        if self.is_hybrid:
            for stage in self.patch_embed.backbone.stages:
                stage.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ('', 'token', 'avg'):
                raise ValueError(f"global_pool must be '', 'token' or 'avg', got {global_pool!r}")
            self.global_pool = global_pool
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def _pos_embed(self, x: torch.Tensor, Hp: int, Wp: int) -> torch.Tensor:
        """Add the Fourier positional encoding of the Hp x Wp grid to tokens (B, N, C)."""
        pos = self.pos_embed(x.shape[0], Hp, Wp).flatten(2).transpose(1, 2)
        return self.pos_drop(x + pos.to(x.dtype))

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """Prepend the class token (it enters only here) and run the class-attention blocks."""
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype)
        x = torch.cat((cls_tokens, x), dim=1)
        for blk in self.cls_attn_blocks:
            if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
                x = checkpoint(blk, x)
            else:
                x = blk(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> normalised tokens (B, 1 + N, C), class token first."""
        x, (Hp, Wp) = self.patch_embed(x)
        x = self._pos_embed(x, Hp, Wp)
        for blk in self.blocks:
            if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
                x = checkpoint(blk, x, Hp, Wp)
            else:
                x = blk(x, Hp, Wp)
        return self.norm(self.forward_cls(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool:
            x = x[:, 1:].mean(dim=1) if self.global_pool == 'avg' else x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: int | list[int] | None = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = 'NCHW',
            intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's intermediate-feature API: the maps of `feature_info`, and the final features.

        Input sides must be multiples of 16, so that a stride-s map is exactly H/s x W/s.

        Args:
            indices: feature indices (hybrids: 0, 1 the ConvNeXt stages, 2.. the FAN blocks; ViT: the
                FAN blocks); the last n if int, all if None.
            norm: apply the final norm to the FAN-block tokens (not to the ConvNeXt stage maps).
            stop_early: stop after the last requested feature (only with `intermediates_only`).
            output_fmt: 'NCHW' maps or 'NLC' tokens (stage maps flattened the same way).
        Returns:
            The intermediates, or (`forward_features`' output, intermediates). For dense prediction the
            patch tokens after class attention are `final[:, 1:]` (with `norm` an identity they equal twice
            their LayerNorm-ed value, as in the original detection code).
        """
        if output_fmt not in ('NCHW', 'NLC'):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        H, W = x.shape[-2:]
        if H % 16 or W % 16:
            raise ValueError(f"forward_intermediates needs input sides that are multiples of 16, got {H}x{W}")
        n_stages = self.num_stage_features
        take_indices, max_index = feature_take_indices(n_stages + len(self.blocks), indices)
        stop = stop_early and intermediates_only
        intermediates: list[torch.Tensor] = []

        if self.is_hybrid:
            stage_maps = self.patch_embed.backbone(x)
            for i, y in enumerate(stage_maps):
                if i in take_indices:
                    intermediates.append(y if output_fmt == 'NCHW' else y.flatten(2).transpose(1, 2))
            if stop and max_index < n_stages:
                return intermediates
            x, (Hp, Wp) = self.patch_embed.project(stage_maps[-1])
        else:
            x, (Hp, Wp) = self.patch_embed(x)
        x = self._pos_embed(x, Hp, Wp)

        blocks = self.blocks[:max_index - n_stages + 1] if stop else self.blocks
        for i, blk in enumerate(blocks):
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, x, Hp, Wp)
            else:
                x = blk(x, Hp, Wp)
            if n_stages + i in take_indices:
                y = self.norm(x) if norm else x
                intermediates.append(tokens_to_map(y, Hp, Wp) if output_fmt == 'NCHW' else y)
        if intermediates_only:
            return intermediates
        return self.norm(self.forward_cls(x)), intermediates

    def prune_intermediate_layers(
            self,
            indices: int | list[int] = 1,
            prune_norm: bool = False,
            prune_head: bool = True,
    ) -> list[int]:
        """Drop the blocks (and optionally the norm and head) that the requested intermediates do not need."""
        take_indices, max_index = feature_take_indices(self.num_stage_features + len(self.blocks), indices)
        self.blocks = self.blocks[:max(0, max_index - self.num_stage_features + 1)]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.cls_attn_blocks = nn.ModuleList()
            self.reset_classifier(0, '')
        return take_indices


def checkpoint_filter_fn(state_dict: dict[str, Any], model: Fan) -> dict[str, torch.Tensor]:
    """Unwrap and check an authors' checkpoint before timm loads it; raise a readable error on mismatch.

    The head is left to timm when the model's class count differs from the pretrained one (timm then
    drops the checkpoint's head and the model keeps a fresh one).
    """
    state_dict = unwrap_state_dict(state_dict)
    report = check_keys(model, state_dict)
    pretrained_classes = (getattr(model, 'pretrained_cfg', None) or {}).get('num_classes', model.num_classes)
    if model.num_classes != pretrained_classes:
        def trunk(key: str) -> bool:
            return not key.startswith('head.')
        report.missing = [k for k in report.missing if trunk(k)]
        report.unexpected = [k for k in report.unexpected if trunk(k)]
        report.mismatched = [m for m in report.mismatched if trunk(m[0])]
    if not report.ok:
        raise CheckpointMismatchError(str(report))
    return state_dict


def _create_fan(variant: str, pretrained: bool = False, **kwargs: Any) -> Fan:
    # features_only default: hybrids give the stride-4/8 ConvNeXt stages and the detection block at stride
    # 16; plain ViT variants (stride 16 only) their last three blocks, as timm's ViT does.
    if kwargs.get('hybrid_depths') is not None:
        default_out = (0, 1, _NUM_STAGES + kwargs.get('dense_out_index', kwargs.get('depth', 12) - 1))
    else:
        default_out = 3
    return build_model_with_cfg(
        Fan,
        variant,
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(out_indices=kwargs.pop('out_indices', default_out), feature_cls='getter'),
        **kwargs,
    )


_CKPT_URL = 'https://github.com/zhoudaquan/fully_attentional_network_ckpt/releases/download/v1.0.0/'


def _cfg(file: str = '', hybrid: bool = False, **kwargs: Any) -> dict[str, Any]:
    return {
        'url': _CKPT_URL + file if file else '',
        'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': None,
        'crop_pct': 1.0, 'interpolation': 'bicubic', 'fixed_input_size': False,
        'mean': IMAGENET_DEFAULT_MEAN, 'std': IMAGENET_DEFAULT_STD,
        'first_conv': 'patch_embed.backbone.stem.0' if hybrid else 'patch_embed.proj.0.0',
        'classifier': 'head',
        'license': 'other',  # the authors' weights and code are under a non-commercial licence
        'paper_ids': 'arXiv:2204.12451',
        **kwargs,
    }


default_cfgs = generate_default_cfgs({
    'fan_tiny_12_p16_224.in1k': _cfg('fan_vit_tiny.pth.tar'),
    'fan_small_12_p16_224.in1k': _cfg('fan_vit_small.pth.tar'),
    'fan_small_12_p16_224_se_attn': _cfg(),
    'fan_base_18_p16_224.in1k': _cfg('fan_vit_base.pth.tar'),
    'fan_large_24_p16_224': _cfg(),
    'fan_tiny_8_p4_hybrid.in1k': _cfg('fan_hybrid_tiny.pth.tar', hybrid=True),
    'fan_small_12_p4_hybrid.in1k': _cfg('fan_hybrid_small.pth.tar', hybrid=True),
    'fan_base_16_p4_hybrid.in1k': _cfg('fan_hybrid_base.pth.tar', hybrid=True),
    'fan_base_16_p4_hybrid.in22k_ft_in1k': _cfg('fan_hybrid_base_in22k_1k.pth.tar', hybrid=True),
    'fan_base_16_p4_hybrid.in22k_ft_in1k_384': _cfg(
        'fan_hybrid_base_in22k_1k_384.pth.tar', hybrid=True, input_size=(3, 384, 384)),
    'fan_large_16_p4_hybrid.in22k_ft_in1k': _cfg('fan_hybrid_large_in22k_1k.pth.tar', hybrid=True),
    'fan_large_16_p4_hybrid.in22k_ft_in1k_384': _cfg(
        'fan_hybrid_large_in22k_1k_384.pth.tar', hybrid=True, input_size=(3, 384, 384)),
})

_NUM_STAGES = 2  # ConvNeXt stages of the hybrid stem, the first feature indices of a hybrid

# default stride-16 detection block per size, as in the original detection code
_DENSE_INDEX = dict(tiny=7, small=9, base=15, large=18)


@register_model
def fan_tiny_12_p16_224(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=12, embed_dim=192, num_heads=4, dense_out_index=_DENSE_INDEX['tiny'])
    return _create_fan('fan_tiny_12_p16_224', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_small_12_p16_224(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=12, embed_dim=384, num_heads=8, dense_out_index=_DENSE_INDEX['small'])
    return _create_fan('fan_small_12_p16_224', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_small_12_p16_224_se_attn(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=12, embed_dim=384, num_heads=8, se_mlp=True,
                      dense_out_index=_DENSE_INDEX['small'])
    return _create_fan('fan_small_12_p16_224_se_attn', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_base_18_p16_224(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=18, embed_dim=448, num_heads=8, dense_out_index=_DENSE_INDEX['base'])
    return _create_fan('fan_base_18_p16_224', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_large_24_p16_224(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=24, embed_dim=480, num_heads=10, dense_out_index=_DENSE_INDEX['large'])
    return _create_fan('fan_large_24_p16_224', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_tiny_8_p4_hybrid(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=8, embed_dim=192, num_heads=8, hybrid_depths=(3, 3),
                      dense_out_index=_DENSE_INDEX['tiny'])
    return _create_fan('fan_tiny_8_p4_hybrid', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_small_12_p4_hybrid(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=10, embed_dim=384, num_heads=8, hybrid_depths=(3, 3),
                      dense_out_index=_DENSE_INDEX['small'])
    return _create_fan('fan_small_12_p4_hybrid', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_base_16_p4_hybrid(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=16, embed_dim=448, num_heads=8, hybrid_depths=(3, 3),
                      dense_out_index=_DENSE_INDEX['base'])
    return _create_fan('fan_base_16_p4_hybrid', pretrained, **dict(model_args, **kwargs))


@register_model
def fan_large_16_p4_hybrid(pretrained: bool = False, **kwargs: Any) -> Fan:
    model_args = dict(depth=22, embed_dim=480, num_heads=10, hybrid_depths=(3, 5), head_init_scale=0.001,
                      dense_out_index=_DENSE_INDEX['large'])
    return _create_fan('fan_large_16_p4_hybrid', pretrained, **dict(model_args, **kwargs))
