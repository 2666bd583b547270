"""The images --skip-bad leaves out, removed from dataset dicts (a materialised cell's copies too) and from
COCO ground truth: hand-written records and the expected survivors."""

from __future__ import annotations

from fan_det.robustness.left_out import kept_positions, kept_records, left_out_ids, without_images

BASE = [{"file_name": f"/data/im{i}.png", "image_id": i, "annotations": [{"bbox": [i, 0, 2, 2]}]}
        for i in (7, 3, 9, 4)]


def test_kept_records_finds_an_image_among_its_corrupted_copies():
    copies = [{**r, "file_name": f"/coco_c/fog/1/im{r['image_id']}.png"} for r in BASE]
    del copies[2]  # a copy the build did not make (image 9): already absent
    kept = kept_records(BASE, copies, {"/data/im3.png", "/data/im9.png"})
    assert [r["file_name"] for r in kept] == ["/coco_c/fog/1/im7.png", "/coco_c/fog/1/im4.png"]
    assert kept_records(BASE, BASE, ()) == BASE


def test_positions_and_ids_of_what_is_left_out():
    assert kept_positions(BASE, {"/data/im9.png"}) == [0, 1, 3]
    assert left_out_ids(BASE, {"/data/im9.png", "/data/im7.png"}) == {9, 7}


def test_ground_truth_without_images_drops_their_annotations_only():
    gt = {"images": [{"id": 1}, {"id": 2}, {"id": 3}], "categories": [{"id": 5}],
          "annotations": [{"id": 10, "image_id": 2}, {"id": 11, "image_id": 3}, {"id": 12, "image_id": 2}]}
    assert without_images(gt, {2}) == {"images": [{"id": 1}, {"id": 3}], "categories": [{"id": 5}],
                                       "annotations": [{"id": 11, "image_id": 3}]}
    assert len(gt["annotations"]) == 3  # the original is not changed
