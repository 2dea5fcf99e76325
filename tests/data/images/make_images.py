# tests/data/images/make_images.py — writes the tiny test images of tests/test_image.cpp with an
# encoder independent of ours (OpenCV: libpng, libjpeg). Pixel values follow closed formulas that
# the test recomputes. Run: /usr/bin/python3 tests/data/images/make_images.py
import os
import cv2
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))

def rgb_pattern(w, h):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 30 + 10) % 256
    g = (y * 40 + 5) % 256
    b = (x * y * 7) % 256
    return np.stack([r, g, b], -1).astype(np.uint8)

def smooth_pattern(w, h):  # smooth, so JPEG keeps it within a few levels
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0)
    g = 128 + 100 * np.cos(y / 5.0)
    b = 60 + 3 * (x + y)
    return np.clip(np.round(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)

def bgr(a):
    return a[..., ::-1].copy()

cv2.imwrite(os.path.join(here, "rgb_7x5.png"), bgr(rgb_pattern(7, 5)))
y, x = np.mgrid[0:4, 0:6]
cv2.imwrite(os.path.join(here, "gray_6x4.png"), (x * 40 + y * 3).astype(np.uint8))
rgba = np.zeros((2, 3, 4), np.uint8)
rgba[..., :3] = rgb_pattern(3, 2)
rgba[..., 3] = [[0, 128, 255], [255, 64, 1]]
cv2.imwrite(os.path.join(here, "rgba_3x2.png"), np.concatenate([bgr(rgba[..., :3]), rgba[..., 3:]], -1))
cv2.imwrite(os.path.join(here, "smooth_48x32.jpg"), bgr(smooth_pattern(48, 32)), [cv2.IMWRITE_JPEG_QUALITY, 95])
cv2.imwrite(os.path.join(here, "smooth_48x32_progressive.jpg"), bgr(smooth_pattern(48, 32)),
            [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
