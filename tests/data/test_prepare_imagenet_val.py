"""prepare_imagenet_val: a flat ImageNet-val-shaped folder and its official ground-truth list, sorted,
evaluate exactly like the pre-sorted tiny set."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from fan_det.data.ood_sets import build_ood_sets, labelled_photos
from fan_det.ood.synsets import imagenet_wnids
from fan_det.prepare_imagenet_val import main

LITE0 = "fan_det.zoo.efficientnet_lite0:build"


@pytest.fixture(scope="module")
def flat_val(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The real labelled photos renamed and flattened as the ILSVRC2012 val release ships them; returns the
    folder, image id -> wnid, and image id -> the photo's original name."""
    root = tmp_path_factory.mktemp("flat")
    wnids = imagenet_wnids()
    labels, original = {}, {}
    # a shuffled numbering, so that file order and class order differ
    order = np.random.default_rng(0).permutation(len(labelled_photos()))
    for number, (path, index) in zip(order + 1, labelled_photos(), strict=True):
        image_id = f"ILSVRC2012_val_{number:08d}"
        shutil.copyfile(path, root / f"{image_id}.JPEG")
        labels[image_id], original[image_id] = wnids[index], path.name
    return root, labels, original


def write_solution_csv(path: Path, labels: dict[str, str]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "PredictionString"])
        for image_id, wnid in sorted(labels.items(), key=lambda kv: kv[0][::-1]):  # any row order
            writer.writerow([image_id, f"{wnid} 10 20 100 200 {wnid} 5 5 50 50"])
    return path


def run_main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as e:
        return e.code


def tree(root: Path) -> set[tuple[str, str]]:
    return {(p.parent.name, p.name) for p in root.rglob("*") if p.is_file()}


def ood_accuracy(tmp_path: Path, root: Path, name: str) -> dict:
    from fan_det.eval_ood import main as eval_ood

    out = tmp_path / name
    eval_ood(["--model", LITE0, "--workers", "0", "--batch-size", "20", "--out", str(out),
              "--dataset", f"imagenet={root}"])
    entry = json.loads((out / "ood.json").read_text())["datasets"]["imagenet"]
    return {k: entry[k] for k in ("num_images", "classes_present")} | {
        k: entry["metrics"][k] for k in ("top1", "top5")}


def test_sorted_folder_evaluates_like_the_presorted_set(tmp_path, flat_val):
    images, labels, original = flat_val
    out = tmp_path / "imagenet" / "val"
    solution = write_solution_csv(tmp_path / "LOC_val_solution.csv", labels)
    assert run_main("--images", str(images), "--ground-truth", str(solution), "--out", str(out)) == 0
    presorted = build_ood_sets()["imagenet"]
    # same class folder for every photo as the pre-sorted tiny set (built independently, from the names)
    assert {(wnid, original[Path(name).stem]) for wnid, name in tree(out)} == tree(presorted)
    sorted_result = ood_accuracy(tmp_path, out, "sorted")
    assert sorted_result == ood_accuracy(tmp_path, presorted, "presorted")
    assert sorted_result["num_images"] == 20 and sorted_result["top1"] > 50  # a real model on real labels


def write_devkit(path: Path, labels: dict[str, str], permutation: np.ndarray) -> Path:
    """An archive shaped like ILSVRC2012_devkit_t12.tar.gz: ``meta.mat`` gives each ILSVRC2012_ID (here a
    permutation of timm's order, as in the real kit) a wnid; the ground truth lists ids by file number."""
    from scipy.io import savemat

    wnids = imagenet_wnids()
    fields = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("gloss", "O"), ("num_children", "O")]
    rows = [(int(permutation[i]) + 1, wnids[i], f"class {i}", "", 0) for i in range(1000)]
    rows.append((1001, "n00001740", "entity", "a non-leaf synset", 3))  # filtered out by the parser
    synsets = np.array(rows, dtype=fields)
    id_of = {wnids[i]: int(permutation[i]) + 1 for i in range(1000)}
    numbers = sorted(labels)
    meta = io.BytesIO()
    savemat(meta, {"synsets": synsets})
    truth = "".join(f"{id_of[labels[n]]}\n" for n in numbers).encode()
    assert numbers == [f"ILSVRC2012_val_{i:08d}" for i in range(1, len(numbers) + 1)]
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("data/meta.mat", meta.getvalue()),
                           ("data/ILSVRC2012_validation_ground_truth.txt", truth)):
            info = tarfile.TarInfo(f"ILSVRC2012_devkit_t12/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_devkit_ground_truth_maps_ids_through_meta_mat(tmp_path, flat_val, monkeypatch):
    import torchvision.datasets.imagenet as tv_imagenet

    monkeypatch.setattr(tv_imagenet, "_verify_archive", lambda *a: None)  # the kit's md5 is the real file's
    images, labels, _ = flat_val
    kit = write_devkit(tmp_path / "ILSVRC2012_devkit_t12.tar.gz", labels,
                       np.random.default_rng(1).permutation(1000))
    out = tmp_path / "val"
    assert run_main("--images", str(images), "--ground-truth", str(kit), "--out", str(out)) == 0
    assert tree(out) == {(wnid, f"{image_id}.JPEG") for image_id, wnid in labels.items()}


def test_refusals_are_one_line(tmp_path, flat_val, capsys):
    images, labels, _ = flat_val
    partial = dict(list(labels.items())[1:])
    csv_path = write_solution_csv(tmp_path / "LOC_val_solution.csv", partial)
    args = ["--images", str(images), "--ground-truth", str(csv_path)]
    assert run_main(*args, "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 image(s) have no ground-truth entry") and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.*"))
    (tmp_path / "taken").mkdir()
    assert run_main(*args, "--out", str(tmp_path / "taken")) == 2
    assert "exists" in capsys.readouterr().err
    bad = tmp_path / "labels.txt"
    bad.write_text("1\n")
    assert run_main("--images", str(images), "--ground-truth", str(bad), "--out", str(tmp_path / "p")) == 2
    assert "expected LOC_val_solution.csv or ILSVRC2012_devkit_t12.tar.gz" in capsys.readouterr().err
