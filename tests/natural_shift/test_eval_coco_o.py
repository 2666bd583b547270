"""python -m fan_det.eval_coco_o end to end on the CPU: the tiny FAN RetinaNet over a COCO-O-shaped set
(4 mini-val images restyled per domain), scored independently, cached by content, refused on bad input."""

import contextlib
import gzip
import io
import json
import shutil

import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fan_det.data.coco_o import build_tiny_coco_o
from fan_det.data.register import tiny_datasets
from fan_det.eval_coco_o import build_parser
from fan_det.eval_coco_o import main as cli
from fan_det.protocol import COCO_O_DOMAINS
from fan_det.results import CocoOResult

IMAGES = 4


@pytest.fixture(scope="module")
def coco_o_root(tmp_path_factory):
    json_path, images = tiny_datasets()["fan_synth_val_mini"]
    source = json.loads(json_path.read_text())
    kept = source["images"][:IMAGES]
    ids = {im["id"] for im in kept}
    subset = tmp_path_factory.mktemp("src") / "subset.json"
    subset.write_text(json.dumps({**source, "images": kept,
                                  "annotations": [a for a in source["annotations"] if a["image_id"] in ids]}))
    return build_tiny_coco_o(subset, images, tmp_path_factory.mktemp("coco_o") / "root")


def _args(trained, root, out, *extra):
    weights, config = trained
    return ["--config", str(config), "--weights", str(weights), "--coco-o-root", str(root), "--workers", "0",
            "--out", str(out), *map(str, extra)]


@pytest.fixture(scope="module")
def evaluated(trained_tiny_retinanet, coco_o_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_coco_o")
    cli(_args(trained_tiny_retinanet, coco_o_root, out, "--bootstrap", 20))
    return out


def _official_ap(json_file, detections):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(json_file))
        evaluation = COCOeval(gt, gt.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return 100 * evaluation.stats[0]


@pytest.mark.slow
def test_each_domain_ap_equals_pycocotools_and_the_mean_is_their_average(evaluated, coco_o_root):
    result = CocoOResult.load(evaluated / "coco_o.json")
    ap = result.stat("AP")
    assert list(ap["per_domain"]) == list(COCO_O_DOMAINS) and result.summary["partial"] is False
    for domain in COCO_O_DOMAINS:
        (detections,) = evaluated.glob(f"domains/{domain}/*/clean-0.detections.json.gz")
        with gzip.open(detections, "rt") as f:
            found = json.load(f)
        assert found, f"{domain}: the trained model detected nothing"
        expected = _official_ap(coco_o_root / domain / "annotations/instances_val2017.json", found)
        assert ap["per_domain"][domain] == pytest.approx(expected, abs=1e-4)
        assert result.doc["domains"][domain]["num_images"] == IMAGES
    assert ap["mean"] == pytest.approx(sum(ap["per_domain"].values()) / 6)
    assert len(set(ap["per_domain"].values())) > 1  # the styles reached the model
    lo, hi = ap["mean_ci"]
    assert lo <= hi and set(ap["per_domain_ci"]) <= set(COCO_O_DOMAINS)
    assert result.doc["model"]["backbone"] == "fan_tiny_8_p4_hybrid"
    assert result.doc["provenance"]["bootstrap"]["resamples"] == 20


@pytest.mark.slow
def test_rerun_reuses_domains_and_an_altered_image_is_evaluated_anew(trained_tiny_retinanet, coco_o_root,
                                                                     evaluated, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(coco_o_root, root)
    out = tmp_path / "out"
    shutil.copytree(evaluated, out)
    image = next((root / "weather" / "val2017").iterdir())
    with Image.open(image) as img:
        img.convert("RGB").rotate(180).save(image)
    cli(_args(trained_tiny_retinanet, root, out, "--domains", "weather,sketch", "--backbone", "my_backbone",
              "--overwrite"))  # another backbone label: the folder's rule asks for --overwrite
    events = {}
    for domain in ("weather", "sketch"):
        logs = sorted(out.glob(f"domains/{domain}/*/log.jsonl"), key=lambda p: p.stat().st_mtime)
        events[domain] = json.loads(logs[-1].read_text().splitlines()[-1])["event"]
    assert events == {"sketch": "reused", "weather": "evaluated"}
    result = CocoOResult.load(out / "coco_o.json")
    assert result.summary["partial"] is True and result.summary["missing"] == ["cartoon", "painting",
                                                                              "handmake", "tattoo"]
    assert result.doc["model"]["backbone"] == "my_backbone"
    first = CocoOResult.load(evaluated / "coco_o.json").stat("AP")["per_domain"]
    assert result.stat("AP")["per_domain"]["sketch"] == first["sketch"]


@pytest.mark.parametrize("extra, named", [
    (["--domains", "snow"], "unknown COCO-O domain(s) snow"),
    (["--bootstrap", "1"], "--bootstrap must be 0"),
    (["--workers", "-1"], "--workers must be 0 or more"),
])
def test_bad_options_are_one_error_line(capsys, coco_o_root, tmp_path, extra, named):
    with pytest.raises(SystemExit) as info:
        cli(["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init", "--coco-o-root",
             str(coco_o_root), "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert info.value.code == 2 and [line for line in err.splitlines() if line.startswith("error:")] == [
        next(line for line in err.splitlines() if named in line)], err


def test_a_foreign_layout_and_a_detector_of_other_classes_are_refused(capsys, coco_o_root, tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(SystemExit):
        cli(["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init", "--coco-o-root",
             str(tmp_path), "--out", str(tmp_path / "o")])
    assert "not COCO-O domains" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # an 80-class COCO detector on the 4-class tiny set
        cli(["--config", "COCO-Detection/retinanet_R_50_FPN_1x.yaml", "--random-init", "--coco-o-root",
             str(coco_o_root), "--out", str(tmp_path / "o"), "INPUT.MIN_SIZE_TEST", "128"])
    assert "has 4 categories but the detector predicts 80" in capsys.readouterr().err


def test_help_names_the_layout_and_every_default():
    text = " ".join(build_parser().format_help().split())
    assert "<domain>/annotations/instances_val2017.json" in text
    assert "(default: runs/coco_o)" in text and "(default: all)" in text and "(default: 0)" in text
