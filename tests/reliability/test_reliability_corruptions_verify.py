"""--verify catches any damaged file, recomputes a sample it can replay, and says clearly when it cannot."""

import re
import shutil

import numpy as np
from PIL import Image
from reliability_corruptions_helpers import build_args, make_coco

from fan_det.build_coco_c import main
from fan_det.corruptions import read_manifest, verify_coco_c


def damage(path):
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0, 0] ^= 1
    Image.fromarray(pixels).save(path)


def test_a_damaged_file_outside_the_recomputed_sample_is_found(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=12)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0  # 12 x 2 x 2 = 48 files
    files = sorted(read_manifest(out)["files"])
    assert len(files) == 48
    first = verify_coco_c(out, samples=16, sample_seed=0)
    assert first.ok and first.hashed == 48 and first.checked == 16
    outside = next(rel for rel in files if rel not in first.sampled)
    damage(out / outside)
    capsys.readouterr()
    assert main(["--out", str(out), "--verify", "--verify-seed", "0", "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert f"FAIL {outside}: sha256 differs from the manifest" in printed


def test_the_sample_seed_comes_from_the_clock_is_printed_and_replays(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=12)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    capsys.readouterr()
    seeds, samples = [], []
    for _ in range(3):
        assert main(["--out", str(out), "--verify", "--verify-samples", "4", "--no-progress"]) == 0
        seed = int(re.search(r"replay with --verify-seed (\d+)", capsys.readouterr().out).group(1))
        seeds.append(seed)
        samples.append(verify_coco_c(out, samples=4, sample_seed=seed).sampled)
    assert len(set(seeds)) == 3  # not a fixed seed
    assert len({tuple(s) for s in samples}) > 1
    assert verify_coco_c(out, samples=4, sample_seed=seeds[0]).sampled == samples[0]  # replayable
    everything = verify_coco_c(out, samples=None)
    assert everything.checked == 48 and everything.sampled == sorted(read_manifest(out)["files"])
    assert main(["--out", str(out), "--verify", "--verify-samples", "all", "--no-progress"]) == 0
    assert "recomputed 48" in capsys.readouterr().out


def test_recomputing_after_the_sources_moved_is_one_error_line(tmp_path, capsys):
    json_path, images = make_coco(tmp_path / "src", count=3)
    out = tmp_path / "coco_c"
    assert main(build_args(json_path, images, out)) == 0
    shutil.move(images, tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["--out", str(out), "--verify", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: source ") and "--verify-samples 0" in err[0]
    assert main(["--out", str(out), "--verify", "--verify-samples", "0", "--no-progress"]) == 0
