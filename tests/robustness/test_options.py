"""Library refusals name options as fields; the command line words the same refusal with flags."""

import pytest

from fan_det.cli import flag_message
from fan_det.robustness.coco_o import CocoOOptions, prepare_coco_o
from fan_det.robustness.options import OptionError
from fan_det.robustness.run import CocoCOptions, prepare_coco_c


def test_an_option_error_names_fields_for_python_and_flags_for_the_command_line():
    error = OptionError("{seed} 4 disagrees with {coco_c_root} /data/{x}", "seed", "coco_c_root")
    assert str(error) == "seed 4 disagrees with coco_c_root /data/{x}"
    assert flag_message(error) == "--seed 4 disagrees with --coco-c-root /data/{x}"
    assert flag_message(ValueError("plain")) == "plain"


def test_the_library_refuses_an_incomplete_grid_naming_the_field():
    with pytest.raises(OptionError) as info:
        prepare_coco_c(CocoCOptions(config="COCO-Detection/retinanet_R_50_FPN_1x.yaml", corruptions="fog",
                                    severities="1"))
    assert "fog/2" in str(info.value) and "(here: allow_partial)" in str(info.value)
    assert "(here: --allow-partial)" in flag_message(info.value)


def test_the_library_refuses_an_unknown_domain_naming_the_field(tmp_path):
    with pytest.raises(OptionError) as info:
        prepare_coco_o(CocoOOptions(config="x.yaml", coco_o_root=str(tmp_path), domains="snow,sketch"))
    assert str(info.value).startswith("domains: unknown COCO-O domain(s) snow")
    assert flag_message(info.value).startswith("--domains: unknown COCO-O domain(s) snow")
