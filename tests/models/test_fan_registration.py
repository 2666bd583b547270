"""``import fan_det`` registers the FAN variants in timm whichever is imported first, and a process that
never imports timm (a COCO-C builder worker) loads neither timm nor torch. Each case runs in a fresh
interpreter, since this one has long imported both."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

COUNT_FAN = "print(json.dumps(sorted(timm.list_models('fan_*'))))"


def fresh_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", "import json, sys\n" + code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("imports", [
    "import fan_det\nimport timm",
    "import timm\nimport fan_det",
    "import fan_det\nfrom timm.layers import DropPath\nimport timm",
    "import fan_det\nimport timm.models as timm_models\nimport timm",
])
def test_every_variant_is_registered_whichever_module_comes_first(imports):
    names = json.loads(fresh_python(f"{imports}\n{COUNT_FAN}"))
    assert len(names) == 9 and all(name.startswith("fan_") for name in names)
    assert "fan_small_12_p4_hybrid" in names


def test_a_model_is_created_by_name_after_import_fan_det_alone():
    code = ("import fan_det, timm\nm = timm.create_model('fan_tiny_8_p4_hybrid', num_classes=3)\n"
            "print(type(m).__module__, m.num_classes)")
    assert fresh_python(code) == "fan_det.models.fan 3"


def test_the_coco_c_builder_loads_neither_timm_nor_torch():
    code = ("import fan_det.build_coco_c, fan_det.corruptions\n"
            "print(json.dumps(['timm' in sys.modules, 'torch' in sys.modules]))")
    assert json.loads(fresh_python(code)) == [False, False]
