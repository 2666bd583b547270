"""glass_blur's numba code is compiled once per machine, not once per process: a second process loads it
from numba's cache (so spawned builder workers skip a 3-5 s compile) and corrupts to the same bytes."""

import hashlib
import os
import subprocess
import sys

import numpy as np

from fan_det.corruptions import corrupt

SCRIPT = """
import hashlib, sys
import numpy as np
from imagecorruptions import corruptions
from fan_det.corruptions import corrupt
image = np.random.default_rng(7).integers(0, 256, (48, 64, 3), dtype=np.uint8)
out = corrupt(image, "glass_blur", 2, seed=3, key=11)
shuffle = corruptions._shuffle_pixels_njit_glass_blur
print(hashlib.sha256(out.tobytes()).hexdigest(), sum(shuffle._cache_hits.values()),
      sum(shuffle._cache_misses.values()))
"""


def _fresh_process(cache_dir) -> tuple[str, int, int]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    digest, hits, misses = done.stdout.split()
    return digest, int(hits), int(misses)


def test_a_second_process_loads_glass_blur_from_the_cache_and_gets_the_same_bytes(tmp_path):
    first = _fresh_process(tmp_path)
    second = _fresh_process(tmp_path)
    assert first[1:] == (0, 1)  # compiled, and written to the cache folder
    assert any(tmp_path.rglob("*.nbi")) and any(tmp_path.rglob("*.nbc"))
    assert second[1:] == (1, 0)  # loaded, not compiled
    image = np.random.default_rng(7).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    here = hashlib.sha256(corrupt(image, "glass_blur", 2, seed=3, key=11).tobytes()).hexdigest()
    assert first[0] == second[0] == here
