import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from signage.vision.blazeface import FULL_RANGE, SHORT_RANGE, Letterbox, decode, letterbox, weighted_nms


def test_anchor_counts_match_the_models():
    assert SHORT_RANGE.anchors().shape == (896, 2)
    assert FULL_RANGE.anchors().shape == (2304, 2)


def test_short_range_anchor_layout_follows_mediapipe():
    anchors = SHORT_RANGE.anchors()
    # 16x16 grid, 2 anchors per cell, then an 8x8 grid with 6 per cell (3 layers x 2).
    assert np.allclose(anchors[0], [0.5 / 16, 0.5 / 16]) and np.allclose(anchors[1], anchors[0])
    assert np.allclose(anchors[512], [0.5 / 8, 0.5 / 8])
    assert np.allclose(anchors[512:518], anchors[512])
    assert np.allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_decode_maps_regressors_relative_to_the_anchor():
    anchors = FULL_RANGE.anchors()
    raw = np.zeros((2304, 16), np.float32)
    scores = np.full((2304, 1), -10.0, np.float32)
    index = 48 * 10 + 20  # row 10, column 20
    raw[index, :4] = [9.6, -19.2, 38.4, 57.6]  # dx, dy, w, h in input pixels (192)
    raw[index, 4:6] = [-9.6, 0.0]  # first keypoint left of the anchor
    scores[index] = 3.0
    boxes, keypoints, found = decode(raw, scores, anchors, 192, 0.5)
    cx, cy = anchors[index]
    assert found.shape == (1,) and abs(found[0] - 1 / (1 + np.exp(-3.0))) < 1e-6
    assert np.allclose(boxes[0], [cx + 0.05 - 0.1, cy - 0.1 - 0.15, cx + 0.05 + 0.1, cy - 0.1 + 0.15], atol=1e-6)
    assert np.allclose(keypoints[0, 0], [cx - 0.05, cy], atol=1e-6)


def test_scores_are_clipped_not_overflowing():
    raw = np.zeros((896, 16), np.float32)
    scores = np.full((896, 1), 1e4, np.float32)
    with np.errstate(all="raise"):
        _, _, found = decode(raw, scores, SHORT_RANGE.anchors(), 128, 0.5)
    assert len(found) == 896 and np.all(found <= 1.0)


def test_weighted_nms_merges_overlaps_by_score_and_keeps_separate_faces():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    scores = np.array([0.9, 0.6, 0.7])
    kept = weighted_nms(boxes, keypoints, scores)
    assert [round(score, 2) for _, _, score in kept] == [0.9, 0.7]
    merged_x1 = (0.1 * 0.9 + 0.12 * 0.6) / 1.5
    assert abs(kept[0][0][0] - merged_x1) < 1e-6


def test_weighted_nms_survives_degenerate_boxes():
    boxes = np.zeros((3, 4), np.float32)
    kept = weighted_nms(boxes, np.zeros((3, 6, 2), np.float32), np.array([0.9, 0.8, 0.7]))
    assert len(kept) == 3


@given(st.integers(16, 4000), st.integers(16, 4000), st.floats(0, 1), st.floats(0, 1))
def test_letterbox_mapping_inverts_the_fit(width, height, u, v):
    box = Letterbox.fit(width, height, 192)
    x, y = u * width, v * height
    normalised = np.array([(x * box.scale + box.offset_x) / 192, (y * box.scale + box.offset_y) / 192])
    assert np.allclose(box.to_frame(normalised), [x, y], rtol=1e-4, atol=1e-2)


def test_letterbox_keeps_aspect_ratio_with_black_bars():
    frame = np.full((100, 200, 3), 255, np.uint8)
    tensor, box = letterbox(frame, 128)
    assert tensor.shape == (1, 128, 128, 3) and tensor.dtype == np.float32
    assert box.scale == 0.64 and box.offset_y == 32
    assert np.allclose(tensor[0, 5, 64], -1.0) and np.allclose(tensor[0, 64, 64], 1.0)
