"""Names and sets match imagecorruptions and the COCO-C protocol (Michaelis et al. 2019); severities and
set names parse or fail clearly."""

import imagecorruptions
import pytest

from fan_det.corruptions import CORRUPTION_SETS, parse_severities, resolve_corruptions


def test_sets_match_the_library_and_spec():
    assert CORRUPTION_SETS["benchmark"] == tuple(imagecorruptions.get_corruption_names("common"))
    assert CORRUPTION_SETS["holdout"] == tuple(imagecorruptions.get_corruption_names("validation"))
    assert CORRUPTION_SETS["all"] == tuple(imagecorruptions.get_corruption_names("all"))
    for family in ("noise", "blur", "weather", "digital"):
        assert CORRUPTION_SETS[family] == tuple(imagecorruptions.get_corruption_names(family))
    assert len(CORRUPTION_SETS["benchmark"]) == 15 and len(CORRUPTION_SETS["holdout"]) == 4
    assert not set(CORRUPTION_SETS["benchmark"]) & set(CORRUPTION_SETS["holdout"])


def test_resolve_corruptions():
    assert resolve_corruptions("holdout") == ("speckle_noise", "gaussian_blur", "spatter", "saturate")
    assert resolve_corruptions("fog, noise,fog") == ("fog", "gaussian_noise", "shot_noise", "impulse_noise")
    for bad in ("fgo", "", "benchmark,nope"):
        with pytest.raises(ValueError, match="corruption"):
            resolve_corruptions(bad)


def test_parse_severities():
    assert parse_severities("1-5") == (1, 2, 3, 4, 5)
    assert parse_severities("3,1,3") == (1, 3)
    assert parse_severities("2-3,5") == (2, 3, 5)
    for bad in ("0-5", "6", "a", "", "3-1"):
        with pytest.raises(ValueError, match="severities"):
            parse_severities(bad)
