"""The segmentation evaluations under --skip-bad: an unreadable image contributes no confusion matrix in
any cell (the result equals evaluating the set with the image removed by hand) and is recorded with its
path; without --skip-bad it is refused in one line naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from reliability_skip_bad_helpers import truncate

from fan_det.data.register import register_tiny_datasets
from fan_det.eval_acdc import main as eval_acdc
from fan_det.eval_city_c import main as eval_city_c
from fan_det.results import AcdcResult, SegmentationResult

MODEL = ["--config", "Misc/semantic_R_50_FPN_1x.yaml", "--random-init", "--workers", "0", "--threads", "1"]
OPTS = ["MODEL.SEM_SEG_HEAD.NUM_CLASSES", "5", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64",
        "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64"]
IMAGES = 4


def _register(name: str, images: Path, records: list[dict]) -> None:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    DatasetCatalog.register(name, lambda: [dict(r) for r in records])
    source = MetadataCatalog.get("fan_synth_seg_val")
    MetadataCatalog.get(name).set(image_root=str(images), stuff_classes=source.stuff_classes,
                                  ignore_label=source.ignore_label, evaluator_type="sem_seg")


def _matrices(out: Path) -> dict[str, np.ndarray]:
    from fan_det.robustness.sem_seg import matrices_from_bytes

    return {p.name.split(".")[0]: matrices_from_bytes(p.read_bytes()) for p in out.glob("cells/*/*.npz")}


def test_eval_city_c_leaves_a_skipped_image_out_of_every_cell(tmp_path, capsys):
    from detectron2.data import DatasetCatalog

    register_tiny_datasets()
    images = tmp_path / "images"
    images.mkdir()
    records = []
    for record in DatasetCatalog.get("fan_synth_seg_val")[:IMAGES]:  # copies: the shared set is never written
        copy = images / Path(record["file_name"]).name
        shutil.copy(record["file_name"], copy)
        records.append({**record, "file_name": str(copy)})
    bad = Path(records[1]["file_name"])
    truncate(bad)
    full, by_hand = f"skip_seg_full_{tmp_path.name}", f"skip_seg_by_hand_{tmp_path.name}"
    _register(full, images, records)
    _register(by_hand, images, [r for r in records if r["file_name"] != str(bad)])
    grid = ["--corruptions", "fog", "--severities", "1", "--allow-partial"]
    with pytest.raises(SystemExit):
        eval_city_c([*MODEL, "--dataset", full, *grid, "--out", str(tmp_path / "refused"), *OPTS])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and f"cannot read image {bad}" in err[0] and "rerun with --skip-bad" in err[0]
    eval_city_c([*MODEL, "--dataset", full, *grid, "--skip-bad", "--out", str(tmp_path / "skip"), *OPTS])
    eval_city_c([*MODEL, "--dataset", by_hand, *grid, "--out", str(tmp_path / "by_hand"), *OPTS])
    doc = SegmentationResult.load(tmp_path / "skip" / "segmentation.json").doc
    expected = SegmentationResult.load(tmp_path / "by_hand" / "segmentation.json").doc
    assert doc["dataset"]["skipped"] == [str(bad)] and doc["provenance"]["skipped"] == [str(bad)]
    assert doc["protocol"]["unreadable_images"] == "skip"
    assert [c["stats"] for c in doc["cells"]] == [c["stats"] for c in expected["cells"]]
    matrices, hand = _matrices(tmp_path / "skip"), _matrices(tmp_path / "by_hand")
    assert sorted(matrices) == ["clean-0", "fog-1"]
    for cell, found in matrices.items():
        assert found.shape[0] == IMAGES - 1 and np.array_equal(found, hand[cell])


def test_eval_acdc_leaves_a_skipped_image_out(tmp_path):
    from fan_det.data.acdc import build_tiny_acdc_set

    tiny, _ = build_tiny_acdc_set()
    for copy in ("full", "by_hand"):  # the first frames of one condition, copied
        for tree, pattern in (("rgb_anon", "*_rgb_anon.png"), ("gt", "*_gt_labelTrainIds.png")):
            folder = tmp_path / copy / tree / "night" / "val" / "seq0"
            folder.mkdir(parents=True)
            for frame in sorted((tiny / tree / "night" / "val" / "seq0").glob(pattern))[:IMAGES]:
                shutil.copy(frame, folder / frame.name)
    frames = sorted((tmp_path / "full" / "rgb_anon" / "night" / "val" / "seq0").iterdir())
    bad = frames[2]
    truncate(bad)
    (tmp_path / "by_hand" / "rgb_anon" / "night" / "val" / "seq0" / bad.name).unlink()  # its label: unused
    opts = [*OPTS[:1], "19", *OPTS[2:]]  # ACDC's 19 Cityscapes classes
    eval_acdc([*MODEL, "--acdc-root", str(tmp_path / "full"), "--conditions", "night", "--skip-bad",
               "--out", str(tmp_path / "skip"), *opts])
    eval_acdc([*MODEL, "--acdc-root", str(tmp_path / "by_hand"), "--conditions", "night",
               "--out", str(tmp_path / "hand_out"), *opts])
    doc = AcdcResult.load(tmp_path / "skip" / "acdc.json").doc
    expected = AcdcResult.load(tmp_path / "hand_out" / "acdc.json").doc
    assert doc["dataset"]["conditions"]["night"]["skipped"] == [str(bad)]
    assert doc["conditions"]["night"]["num_images"] == IMAGES - 1
    assert doc["conditions"]["night"]["stats"] == expected["conditions"]["night"]["stats"]
