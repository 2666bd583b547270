"""Config keys, clear config errors, and the AdamW parameter groups (decay and layer-wise lr)."""

from __future__ import annotations

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from torch import nn

from fan_det.detection import FANBackbone, add_fan_config, build_fan_optimizer, check_datasets, param_groups
from fan_det.paths import REPO_ROOT
from fan_det.train import ConfigError, build_parser, load_config

TINY = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")


def test_fan_keys_and_typo_rejection(tmp_path):
    cfg = add_fan_config(get_cfg())
    for key in ("NAME", "OUT_FEATURES", "OUT_INDEX", "DROP_PATH_RATE", "POS_ENCODING", "GRAD_CHECKPOINTING",
                "NORM", "WEIGHTS"):
        assert key in cfg.MODEL.FAN
    assert cfg.SOLVER.OPTIMIZER == "ADAMW" and cfg.SOLVER.LAYER_DECAY == 1.0
    with pytest.raises(ConfigError, match=r"unknown config key MODEL\.FAN\.NAMEE in the overrides "
                                          r"\(did you mean MODEL\.FAN\.NAME\?\)"):
        load_config(TINY, ["MODEL.FAN.NAMEE", "x"])
    typo = tmp_path / "typo.yaml"
    typo.write_text(f'_BASE_: "{TINY}"\nMODEL:\n  FAN:\n    DROP_PATH: 0.1\n')
    with pytest.raises(ConfigError, match=r"unknown config key MODEL\.FAN\.DROP_PATH in .*typo\.yaml "
                                          r"\(did you mean MODEL\.FAN\.DROP_PATH_RATE\?\)"):
        load_config(str(typo))


def test_cli_accepts_both_config_spellings():
    parser = build_parser()
    assert parser.parse_args(["--config", "a.yaml"]).config_file == "a.yaml"
    args = parser.parse_args(["--config-file", "a.yaml", "--num-gpus", "2", "SOLVER.MAX_ITER", "5"])
    assert args.config_file == "a.yaml" and args.num_gpus == 2 and args.opts == ["SOLVER.MAX_ITER", "5"]


def test_unknown_fan_name_and_dataset_are_clear_errors(tmp_path):
    cfg = load_config(TINY, ["MODEL.FAN.NAME", "fan_huge"])
    with pytest.raises(ValueError, match="unknown FAN model 'fan_huge'"):
        build_model(cfg)
    with pytest.raises(KeyError, match=r"not registered \(did you mean coco_2017_val\?\).*fan_synth_train"):
        check_datasets(load_config(TINY, ["DATASETS.TEST", "('coco_2017_vall',)"]))
    with pytest.raises(ConfigError, match="no config file"):
        load_config(str(tmp_path / "nope.yaml"))


def _model():
    cfg = load_config(TINY, ["MODEL.FAN.NAME", "fan_tiny_8_p4_hybrid"])
    torch.manual_seed(0)
    return cfg, build_model(cfg)


def _expected_no_decay(model: nn.Module) -> set[str]:
    """Independent rule: parameters of norm layers, biases, positional encoding, class token, temperature."""
    norm_types = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    names = set()
    for mname, module in model.named_modules():
        for pname, _ in module.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if (isinstance(module, norm_types) or type(module).__name__ == "LayerNorm" or pname == "bias"
                    or "pos_embed" in full or pname in ("cls_token", "temperature")):
                names.add(full)
    return names


def test_weight_decay_split():
    cfg, model = _model()
    groups = param_groups(model, 1e-4, 0.05)
    by_id = {id(p): n for n, p in model.named_parameters()}
    seen = [by_id[id(p)] for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(by_id.values())  # every parameter exactly once
    no_decay = {by_id[id(p)] for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert no_decay == _expected_no_decay(model)
    assert "backbone.bottom_up.model.blocks.0.mlp.temperature" in no_decay
    assert "backbone.bottom_up.model.blocks.0.attn.q.weight" not in no_decay
    opt = build_fan_optimizer(cfg, model)
    assert isinstance(opt, torch.optim.AdamW)


def test_layer_decay():
    _, model = _model()
    depth, decay, lr = 8, 0.7, 1e-3
    groups = param_groups(model, lr, 0.05, layer_decay=decay)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    params = dict(model.named_parameters())
    trunk = "backbone.bottom_up.model."

    def expect(layer):
        return lr * decay ** (depth + 1 - layer)

    assert lr_of[id(params[trunk + "patch_embed.backbone.stem.0.weight"])] == pytest.approx(expect(0))
    assert lr_of[id(params[trunk + "cls_token"])] == pytest.approx(expect(0))
    for i in range(depth):
        assert lr_of[id(params[f"{trunk}blocks.{i}.attn.q.weight"])] == pytest.approx(expect(i + 1))
    assert lr_of[id(params[trunk + "cls_attn_blocks.0.attn.q.weight"])] == pytest.approx(lr)
    assert lr_of[id(params["backbone.bottom_up.res5_conv.weight"])] == pytest.approx(lr)
    assert lr_of[id(params["head.cls_score.weight"])] == pytest.approx(lr)


def _reference_lr_wd(model: nn.Module, base_lr: float, wd: float, layer_decay: float) -> dict[str, tuple]:
    """The hand-written rule this module used before detectron2's helpers, kept as the reference:
    norms (torch's and detectron2's LayerNorm) and biases and keyword names no decay; FAN layer l of depth D
    gets base_lr * decay ** (D + 1 - l), embeddings and the class token l = 0, the rest of the trunk D + 1."""
    from detectron2.layers.batch_norm import LayerNorm as D2LayerNorm

    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, D2LayerNorm)
    norm = {id(p) for m in model.modules() if isinstance(m, norm_types) for p in m.parameters(False)}
    (where, fan), = ((n, m) for n, m in model.named_modules() if isinstance(m, FANBackbone))
    trunk, depth = f"{where}.model.", len(fan.model.blocks)
    out = {}
    for name, p in model.named_parameters():
        decay = 0.0 if (id(p) in norm or name.endswith(".bias")
                        or any(k in name for k in ("pos_embed", "cls_token", "temperature"))) else wd
        lr = base_lr
        if name.startswith(trunk):
            local = name[len(trunk):]
            if local.startswith(("patch_embed.", "pos_embed.", "cls_token")):
                layer = 0
            elif local.startswith("blocks."):
                layer = int(local.split(".")[1]) + 1
            else:
                layer = depth + 1
            lr = base_lr * layer_decay ** (depth + 1 - layer)
        out[name] = (lr, decay)
    return out


@pytest.mark.parametrize("config", ["retinanet_fan_tiny_hybrid_synth.yaml",
                                    "retinanet_fan_tiny_vit_synth.yaml"])
@pytest.mark.parametrize("layer_decay", [1.0, 0.7])
def test_detectron2_param_groups_match_the_previous_rule(config, layer_decay):
    cfg = load_config(str(REPO_ROOT / "configs" / "tiny" / config))
    model = build_model(cfg)
    groups = param_groups(model, 2e-4, 0.05, layer_decay=layer_decay)
    name_of = {id(p): n for n, p in model.named_parameters()}
    got = {name_of[id(p)]: (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    expected = _reference_lr_wd(model, 2e-4, 0.05, layer_decay)
    assert got.keys() == expected.keys()
    for name, (lr, wd) in expected.items():
        assert got[name][0] == pytest.approx(lr, rel=1e-12), name
        assert got[name][1] == wd, name
    assert len(groups) == len(set(got.values()))  # merged: one group per distinct (lr, wd)
