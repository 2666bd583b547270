"""eval_coco_c's cache promises: the same inputs reuse finished cells; retrained weights, a changed config
or a damaged cell file are evaluated again, never reused; a materialised COCO-C is recorded as it was
built (seed, format, corruption library), and a --seed that contradicts it is refused."""

import json
import shutil

import pytest
import torch
from reliability_skip_bad_helpers import cell_events as _events

from fan_det.eval_coco_c import main
from fan_det.paths import REPO_ROOT
from fan_det.results import RobustnessResult

CONFIG = str(REPO_ROOT / "configs" / "tiny" / "retinanet_fan_tiny_hybrid_synth.yaml")
DATASET = "fan_synth_val_mini"
SMALL = ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]
CELLS = {"clean-0", "fog-1"}


def _args(weights, out, *extra, opts=()):
    return ["--config", CONFIG, "--weights", str(weights), "--dataset", DATASET, "--corruptions", "fog",
            "--severities", "1", "--allow-partial", "--workers", "0", "--threads", "1", "--out", str(out),
            *extra, *SMALL, *opts]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A checkpoint of the tiny FAN RetinaNet and one finished evaluation of it."""
    from fan_det.robustness.detector import build_eval_model, load_config

    root = tmp_path_factory.mktemp("cache")
    model, _ = build_eval_model(load_config(CONFIG, SMALL), seed=1)
    weights = root / "model_final.pth"
    torch.save({"model": model.state_dict()}, weights)
    main(_args(weights, root / "out"))
    return weights, root / "out"


@pytest.fixture()
def copy(first_run, tmp_path):
    """The first run's weights and output folder, copied so each test changes only its own."""
    weights, out = first_run
    shutil.copy(weights, tmp_path / weights.name)
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / weights.name, tmp_path / "out"


def test_the_same_inputs_reuse_every_cell(copy):
    weights, out = copy
    main(_args(weights, out))
    ((key, events),) = _events(out).items()
    assert events == {"evaluated": CELLS, "reused": CELLS}


def test_retrained_weights_are_evaluated_again(copy):
    weights, out = copy
    checkpoint = torch.load(weights, weights_only=True)
    name = next(k for k, v in checkpoint["model"].items() if v.is_floating_point())
    checkpoint["model"][name] = checkpoint["model"][name] + 0.01  # "retrained": same file name, new values
    torch.save(checkpoint, weights)
    main(_args(weights, out, "--overwrite"))  # other weights: another model's results, replaced on request
    runs = _events(out)
    assert len(runs) == 2 and all(events == {"evaluated": CELLS} for events in runs.values())
    doc = RobustnessResult.load(out / "robustness.json").doc
    assert doc["model"]["weights_sha256"] in {json.loads((out / "cells" / k / "key.json").read_text())
                                              ["weights_sha256"] for k in runs}


@pytest.mark.parametrize("change", [["MODEL.RETINANET.SCORE_THRESH_TEST", "0.3"],
                                    ["INPUT.MIN_SIZE_TEST", "80"]])
def test_a_changed_config_is_evaluated_again(copy, change):
    weights, out = copy
    main(_args(weights, out, "--overwrite", opts=change))
    runs = _events(out)
    assert len(runs) == 2 and all(events == {"evaluated": CELLS} for events in runs.values())


def test_a_changed_scorer_is_evaluated_again(copy):
    weights, out = copy
    main(_args(weights, out, "--scorer", "pycocotools"))
    runs = _events(out)
    assert len(runs) == 2 and all(events == {"evaluated": CELLS} for events in runs.values())
    assert RobustnessResult.load(out / "robustness.json").doc["protocol"]["scorer"]["name"] == "pycocotools"


def test_a_truncated_cell_file_is_recomputed_with_a_warning(copy, capsys):
    weights, out = copy
    (record,) = out.glob("cells/*/clean-0.json")
    record.write_bytes(record.read_bytes()[:40])
    main(_args(weights, out))
    assert f"warning: cache entry {record}" in capsys.readouterr().err
    ((key, events),) = _events(out).items()
    assert events == {"evaluated": CELLS, "reused": {"fog-1"}}  # the clean cell twice, in the two runs
    log = [json.loads(line) for line in (record.parent / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log if e["entry"] == ["clean", 0]] == ["evaluated", "evaluated"]
    assert json.loads(record.read_text())["num_images"] == 16  # rewritten whole


@pytest.fixture(scope="module")
def coco_c_root(tmp_path_factory):
    """fog/1 of the mini set materialised with seed 3, its manifest claiming another library version."""
    from fan_det.corruptions import Settings, build_coco_c, load_images
    from fan_det.data.register import register_tiny_datasets

    register_tiny_datasets()
    root = tmp_path_factory.mktemp("coco_c")
    build_coco_c(load_images(DATASET, None, "png"), root, ["fog"], [1], settings=Settings.make(seed=3),
                 dataset=DATASET, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["versions"]["imagecorruptions"] and manifest["settings"]["seed"] == 3  # as built
    manifest["versions"]["imagecorruptions"] = "0.0.1-built-elsewhere"  # not the installed one
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root, manifest


def test_a_materialised_coco_c_is_recorded_as_it_was_built(first_run, coco_c_root, tmp_path):
    weights, _ = first_run
    root, manifest = coco_c_root
    main(_args(weights, tmp_path / "out", "--coco-c-root", str(root)))
    protocol = RobustnessResult.load(tmp_path / "out" / "robustness.json").doc["protocol"]
    assert protocol["seed"] == 3 and protocol["mode"] == "materialised"
    assert protocol["coco_c_root"] == str(root)
    assert protocol["imagecorruptions_version"] == "0.0.1-built-elsewhere"
    assert protocol["coco_c"]["settings"]["format"] == "png" and protocol["coco_c"]["settings"]["seed"] == 3
    assert protocol["coco_c"]["versions"] == manifest["versions"]
    (key,) = (tmp_path / "out" / "cells").glob("*/key.json")
    assert json.loads(key.read_text())["seed"] == 3


@pytest.mark.parametrize("seed", ["0", "4"])
def test_a_seed_that_contradicts_the_materialised_coco_c_is_refused(first_run, coco_c_root, tmp_path, capsys,
                                                                   seed):
    weights, _ = first_run
    root, _ = coco_c_root
    with pytest.raises(SystemExit) as info:
        main(_args(weights, tmp_path / "out", "--coco-c-root", str(root), "--seed", seed))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and f"--seed {seed}" in err[-1] and "seed 3" in err[-1]
    assert not (tmp_path / "out" / "robustness.json").exists()


def test_the_seed_that_built_it_is_accepted(first_run, coco_c_root, tmp_path):
    weights, _ = first_run
    root, _ = coco_c_root
    main(_args(weights, tmp_path / "out", "--coco-c-root", str(root), "--seed", "3"))
    assert RobustnessResult.load(tmp_path / "out" / "robustness.json").doc["protocol"]["seed"] == 3


@pytest.mark.parametrize("problem", ["cell not built", "no manifest"])
def test_a_coco_c_root_that_lacks_what_is_asked_is_one_error_line(first_run, coco_c_root, tmp_path, capsys,
                                                                  problem):
    weights, _ = first_run
    root, _ = coco_c_root
    where = root if problem == "cell not built" else tmp_path
    argv = _args(weights, tmp_path / "out", "--coco-c-root", str(where))
    if problem == "cell not built":
        argv[argv.index("--severities") + 1] = "2"
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error: ") and "python -m fan_det.build_coco_c" in line
    assert ("fog/2" in line) if problem == "cell not built" else ("manifest.json" in line)


def test_the_thread_budget_is_recorded(first_run, tmp_path):
    weights, _ = first_run
    argv = _args(weights, tmp_path / "out")
    argv[argv.index("--threads") + 1], argv[argv.index("--workers") + 1] = "3", "1"
    main(argv)
    provenance = RobustnessResult.load(tmp_path / "out" / "robustness.json").provenance
    assert provenance["threads"] == {"total": 3, "workers": 1, "per_worker": 3, "main": 1}
    assert provenance["workers"] == 1 and provenance["scorer"]["name"] == "faster-coco-eval"
