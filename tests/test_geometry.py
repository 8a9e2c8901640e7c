"""pipeline.geometry: skew and the page <-> upright maps."""
import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geometry import estimate_skew, upright, upright_map

LETTER = cv2.imread("samples/letter.jpg", cv2.IMREAD_GRAYSCALE)
LETTER_SKEW = json.load(open("samples/letter.json"))["angle"]        # the generator's own record: 1.043


def _turn(gray, deg):
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)              # counter-clockwise as seen
    return cv2.warpAffine(gray, m, (w, h), borderValue=255)


@pytest.mark.parametrize("extra", [-6.0, 0.0, 2.5, 9.0])
def test_skew_of_a_turned_letter(extra):
    assert abs(estimate_skew(_turn(LETTER, extra)) - (LETTER_SKEW + extra)) < 0.2


@pytest.mark.parametrize("extra", [-27.0, 21.0])
def test_skews_past_15_degrees_are_searched_only_when_asked(extra):
    """A photo tilted 20-30 degrees: found when the search reaches that far."""
    g = _turn(LETTER, extra)
    assert abs(estimate_skew(g, max_angle=30) - (LETTER_SKEW + extra)) < 0.3
    assert abs(estimate_skew(g)) <= 15.0                                # the default stops at 15


def test_blank_and_noise_pages_have_no_skew():
    blank = np.full((800, 600), 255, np.uint8)
    assert estimate_skew(blank) == 0.0
    noise = np.random.default_rng(0).integers(0, 256, (400, 300)).astype(np.uint8)
    assert abs(estimate_skew(noise)) <= 15                          # no crash, some answer


@pytest.mark.parametrize("angle", [90, 180, 270, -90])
def test_quarter_turns_move_pixels_exactly(angle):
    img = np.random.default_rng(1).integers(0, 256, (7, 11, 3)).astype(np.uint8)
    u = upright(img, angle)
    assert u.image.shape == ((7, 11, 3) if angle % 180 == 0 else (11, 7, 3))
    for x, y in [(0, 0), (10, 0), (3, 6), (10, 6)]:
        X, Y = np.round(u.points_to_upright([[x, y]])[0]).astype(int)
        assert (u.image[Y, X] == img[y, x]).all()


def test_a_page_whose_text_runs_up_is_turned_clockwise():
    # text running up the page = the page turned 90 degrees counter-clockwise; upright(90) undoes that
    g = cv2.imread("samples/letter.jpg", cv2.IMREAD_GRAYSCALE)
    up = upright(cv2.rotate(g, cv2.ROTATE_90_COUNTERCLOCKWISE), 90).image
    assert np.array_equal(up, g)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 3000), w=st.integers(1, 3000), angle=st.floats(-180, 180),
       x=st.floats(-100, 3100), y=st.floats(-100, 3100))
def test_page_and_upright_maps_invert_each_other(h, w, angle, x, y):
    m, (nh, nw) = upright_map(h, w, angle)
    inv = cv2.invertAffineTransform(m)
    p = np.array([x, y])
    back = inv[:, :2] @ (m[:, :2] @ p + m[:, 2]) + inv[:, 2]
    np.testing.assert_allclose(back, p, atol=1e-6 * max(1.0, abs(x), abs(y)))
    # the whole page lands on the canvas
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float) @ m[:, :2].T + m[:, 2]
    assert corners.min() > -1.0 and (corners[:, 0] < nw + 0.5).all() and (corners[:, 1] < nh + 0.5).all()
