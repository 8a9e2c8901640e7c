"""pipeline.crop: line quads -> horizontal strips of height 32, and the map back to the page."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.crop import CropConfig, crop_line, crop_lines, line_frame


def _rotated_line(angle_deg: float, scale: float = 2.0, thick: int = 4):
    """A white page with one printed line turned ``angle_deg`` about the page centre, and its quad."""
    img = np.full((400, 900), 255, np.uint8)
    cv2.putText(img, "Hello skewed world 2024", (60, 220), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thick)
    m = cv2.getRotationMatrix2D((450, 200), angle_deg, 1.0)
    page = cv2.warpAffine(img, m, (900, 400), borderValue=255)
    quad = np.array([[55, 170], [880, 170], [880, 235], [55, 235]], float) @ m[:, :2].T + m[:, 2]
    return page, quad


@pytest.mark.parametrize("angle", [-3.0, 0.0, 3.0])
def test_skewed_line_comes_out_flat(angle):
    page, quad = _rotated_line(angle)
    c = crop_line(page, quad)
    assert c.image.shape[0] == 32 and c.image.dtype == np.uint8
    # aspect kept: the padded box is 825 + 2*0.3*65 = 864 px long and 65*1.3 = 84.5 px tall
    assert c.image.shape[1] == round(864 * 32 / 84.5)
    ink = c.image < 128
    w = ink.shape[1]
    left, right = np.nonzero(ink[:, : w // 2])[0], np.nonzero(ink[:, w // 2:])[0]
    # a 3-degree skew over ~330 strip columns would shift the ink by ~8 rows between the halves
    assert abs(left.mean() - right.mean()) < 1.5
    assert left.min() > 0 and right.max() < 31          # padding keeps the ink off the strip's edges


def test_line_frame_of_an_axis_aligned_box():
    centre, u, length, height = line_frame([[10, 20], [110, 20], [110, 40], [10, 40]])
    np.testing.assert_allclose(centre, [60, 30])
    np.testing.assert_allclose(u, [1, 0])
    assert (length, height) == (100, 20)


@pytest.mark.parametrize("text_h", [12, 60])        # strip larger than the line, and smaller (area reduction)
def test_matrix_maps_page_points_onto_the_strip(text_h):
    page = np.full((300, 1200), 255, np.uint8)
    x0, y0, x1, y1 = 100, 120, 1000, 120 + text_h
    dot = (520, 120 + text_h // 2)
    cv2.circle(page, dot, max(2, text_h // 6), 0, -1)
    c = crop_line(page, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    ys, xs = np.nonzero(c.image < 128)
    got = np.array([xs.mean(), ys.mean()])
    want = c.to_strip([dot])[0]
    assert np.abs(got - want).max() < 1.0
    np.testing.assert_allclose(c.to_page([got])[0], dot, atol=max(1.5, text_h / 32 * 1.5))


def test_no_black_bars_at_the_page_edge():
    page = np.full((100, 200), 230, np.uint8)
    c = crop_line(page, [[-20, -5], [150, -5], [150, 15], [-20, 15]])    # hangs over the top-left corner
    assert c.image.min() == 230 and c.image.max() == 230


def test_crop_lines_takes_rgb_and_keeps_order():
    rgb = np.full((200, 400, 3), 255, np.uint8)
    rgb[50:70, 20:380] = 0
    quads = [[[10, 100], [390, 100], [390, 130], [10, 130]], [[10, 45], [390, 45], [390, 75], [10, 75]]]
    a, b = crop_lines(rgb, quads)
    assert a.image.min() == 255                          # the first quad holds no ink
    assert b.image.min() == 0                            # the second holds the bar
    assert a.image.ndim == 2 and b.image.shape[0] == 32


def test_very_long_lines_are_squeezed_to_max_width():
    page = np.full((50, 3000), 255, np.uint8)
    c = crop_line(page, [[0, 20], [3000, 20], [3000, 30], [0, 30]], CropConfig(max_width=1000))
    assert c.image.shape == (32, 1000)
    np.testing.assert_allclose(c.to_page(c.to_strip([[1500, 25]])), [[1500, 25]])


@settings(max_examples=60, deadline=None)
@given(cx=st.floats(0, 2000), cy=st.floats(0, 2000), angle=st.floats(-30, 30), length=st.floats(5, 1500),
       height=st.floats(4, 200), px=st.floats(-500, 2500), py=st.floats(-500, 2500))
def test_strip_and_page_maps_invert_each_other(cx, cy, angle, length, height, px, py):
    t = np.deg2rad(angle)
    u, n = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    c0 = np.array([cx, cy])
    quad = [c0 - u * length / 2 - n * height / 2, c0 + u * length / 2 - n * height / 2,
            c0 + u * length / 2 + n * height / 2, c0 - u * length / 2 + n * height / 2]
    page = np.zeros((8, 8), np.uint8)                 # content does not matter for the geometry
    c = crop_line(page, quad, CropConfig(max_width=256))
    p = np.array([[px, py]])
    np.testing.assert_allclose(c.to_page(c.to_strip(p)), p, atol=1e-6 * max(1.0, abs(px), abs(py)))
    # the quad's centre lands on the strip's middle row
    assert abs(c.to_strip([c0])[0, 1] - 15.5) < 0.6
