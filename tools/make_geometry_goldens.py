#!/usr/bin/python3
"""Reference data for data/geometry.h and the affine warp, from numpy and OpenCV.

Run with Debian's interpreter (python3-opencv and python3-numpy load only there):

    /usr/bin/python3 tools/make_geometry_goldens.py           # writes tests/data/geometry/*.safetensors
    /usr/bin/python3 tools/make_geometry_goldens.py --study   # also prints the OpenCV study below

Everything is seeded, so a rerun writes identical files.

similarity.safetensors
  umeyama/<k>/{src,dst,M}   N >= 2 point pairs and the least-squares similarity from an independent
                            numpy implementation of Umeyama's formula (skimage's
                            SimilarityTransform.estimate: SVD of the cross-covariance, the
                            reflection-excluding sign fix, scale from the singular values).
  opencv/<k>/{src,dst,M}    cv2.estimateAffinePartial2D(src, dst) with its defaults, in the settings
                            where OpenCV returns the least-squares answer (see below).
  outlier/<k>/{src,dst,M,inliers}  one point moved far away: OpenCV's answer is the least-squares
                            similarity of its inliers only.
  three/<k>/{src,dst,M,all_inliers} three pairs (the notebooks' call) and OpenCV's answer.

warp.safetensors
  <k>/src, <k>/M (float32 [B, 2, 3], source -> destination), <k>/out (cv2.warpAffine, INTER_LINEAR),
  <k>/exact (float32: exact bilinear interpolation in float64 numpy, unrounded; float and
  white-noise cases only), <k>/params (int32:
  out_h, out_w, layout 0=HWC 1=CHW, border 0=replicate 1=constant, smooth 0/1), <k>/border_value.

What we found about cv2.estimateAffinePartial2D (OpenCV 4.6; run --study to repeat):
  * It converts the points to float32 first, then RANSAC over 2-point minimal samples (threshold
    3 px), then refineIters (default 10) Levenberg-Marquardt iterations in double precision on the
    inliers. With float32-representable inputs, all points inliers and refineIters > 0, it returns
    the least-squares similarity to ~1e-12. We therefore give it float32-exact coordinates.
  * With refineIters=0 it returns the minimal-sample model, not the least-squares one (errors of
    several pixels with 0.3 px noise). With noise-free pairs the LM stops at once (the residual is
    already ~0), leaving the minimal-sample model's float32 rounding: ~1e-5 from least squares.
  * A point more than 3 px from the best model is dropped: the answer is least squares over the
    inliers. LMEDS also drops points (at the median-based threshold), so it is not least squares
    on noisy data.
  * Three pairs (the notebooks): the final model is least squares over all three when some pair's
    exact similarity brings the third point within 3 px; otherwise only two inliers remain and
    OpenCV keeps its first RANSAC sample, which with its fixed RNG seed is always points 0 and 1.
    The --study run checks this rule against OpenCV on 3000 random triples.

What we found about cv2.warpAffine: it snaps each source position to a 1/32-pixel grid (after 1/1024
fixed point) and, for uint8, uses 15-bit fixed-point weights. Exact bilinear (ours) therefore differs
by up to |dI/dx| / 64 + |dI/dy| / 64 (+ rounding): on white-noise images up to ~5 levels, mean ~0.4.
On images whose neighbouring pixels differ by at most 26 levels the quantisation error stays below
one level, so ours and OpenCV's rounded results differ by at most 1. Hence "smooth" cases (random
images with bounded gradient) for the within-one-level check, and white-noise cases for the
statistics, with the exact numpy bilinear as the tight reference.
"""
import itertools
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors as write_numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "geometry")


def write_safetensors(path, tensors, metadata):
    """tools/safetensors_io.py's writer, with the metadata values as strings."""
    write_numpy(path, tensors, {k: str(v) for k, v in metadata.items()})


def f32(a):
    """Rounds to the nearest float32 value (kept as float64): what OpenCV will see."""
    return np.asarray(a, np.float64).astype(np.float32).astype(np.float64)


# ----------------------------------------------------------------------------- similarity
def umeyama(src, dst):
    """Umeyama (1991) as skimage's SimilarityTransform.estimate writes it, for 2-D points."""
    num, dim = src.shape
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_demean, dst_demean = src - src_mean, dst - dst_mean
    A = dst_demean.T @ src_demean / num  # cross-covariance, eq. (38)
    d = np.ones(dim)
    if np.linalg.det(A) < 0:  # eq. (39): exclude reflections
        d[dim - 1] = -1
    T = np.eye(dim + 1)
    U, S, V = np.linalg.svd(A)
    rank = np.linalg.matrix_rank(A)
    if rank == 0:
        raise ValueError("degenerate point set")
    if rank == dim - 1:
        if np.linalg.det(U) * np.linalg.det(V) > 0:
            T[:dim, :dim] = U @ V
        else:
            s = d[dim - 1]
            d[dim - 1] = -1
            T[:dim, :dim] = U @ np.diag(d) @ V
            d[dim - 1] = s
    else:
        T[:dim, :dim] = U @ np.diag(d) @ V  # eq. (40)
    scale = 1.0 / src_demean.var(axis=0).sum() * (S @ d)  # eq. (42)
    T[:dim, dim] = dst_mean - scale * (T[:dim, :dim] @ src_mean.T)  # eq. (41)
    T[:dim, :dim] *= scale
    return T[:2]


def linear_lstsq(src, dst):
    """The same minimiser as ordinary least squares over M = [a -b tx; b a ty] (for the study)."""
    A = np.zeros((2 * len(src), 4))
    rhs = np.zeros(2 * len(src))
    for i, (p, q) in enumerate(zip(src, dst)):
        A[2 * i] = [p[0], -p[1], 1, 0]
        A[2 * i + 1] = [p[1], p[0], 0, 1]
        rhs[2 * i], rhs[2 * i + 1] = q
    a, b, tx, ty = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def random_similarity(rng, angle=np.pi, smin=0.5, smax=2.0, shift=20.0):
    th, s = rng.uniform(-angle, angle), rng.uniform(smin, smax)
    return np.array([[s * np.cos(th), -s * np.sin(th), rng.uniform(-shift, shift)],
                     [s * np.sin(th), s * np.cos(th), rng.uniform(-shift, shift)]])


def apply(M, pts):
    return pts @ M[:, :2].T + M[:, 2]


def three_point_rule(src, dst, thr=3.0):
    """Our reading of estimateAffinePartial2D on three pairs (data/geometry.h)."""
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        k = 3 - i - j
        e = apply(umeyama(src[[i, j]], dst[[i, j]]), src[k:k + 1])[0] - dst[k]
        if e @ e <= thr * thr:
            return umeyama(src, dst), True
    return umeyama(src[[0, 1]], dst[[0, 1]]), False


def similarity_goldens(rng):
    t = []
    k = 0
    for n in [2, 3, 4, 5, 7, 12]:
        for kind in ["similarity", "reflected", "unrelated"]:
            src = rng.uniform(0, 112, (n, 2))
            if kind == "similarity":
                dst = apply(random_similarity(rng), src) + rng.normal(0, 0.5, (n, 2))
            elif kind == "reflected":  # the best similarity must not mirror
                dst = apply(random_similarity(rng), src * [-1, 1]) + rng.normal(0, 0.5, (n, 2))
            else:
                dst = rng.uniform(0, 112, (n, 2))
            M = umeyama(src, dst)
            assert np.abs(M - linear_lstsq(src, dst)).max() < 1e-9
            t += [(f"umeyama/{k}/src", src), (f"umeyama/{k}/dst", dst), (f"umeyama/{k}/M", M)]
            k += 1
    n_umeyama = k

    k = 0
    while k < 12:  # noisy pairs, all inliers: OpenCV's refinement converges to least squares
        n = [2, 3, 4, 5, 8, 16][k % 6]
        src = f32(rng.uniform(0, 256, (n, 2)))
        dst = f32(apply(random_similarity(rng), src) + rng.normal(0, 0.5, (n, 2)))
        M, inl = cv2.estimateAffinePartial2D(src, dst)
        if inl.sum() < n:
            continue
        assert np.abs(M - umeyama(src, dst)).max() < 1e-9, "OpenCV is not least squares here"
        t += [(f"opencv/{k}/src", src), (f"opencv/{k}/dst", dst), (f"opencv/{k}/M", M)]
        k += 1
    n_opencv = k

    k = 0
    while k < 6:  # one gross outlier: OpenCV's answer is least squares over the inliers
        n = [4, 5, 8][k % 3]
        src = f32(rng.uniform(0, 256, (n, 2)))
        dst = apply(random_similarity(rng), src) + rng.normal(0, 0.5, (n, 2))
        dst[rng.integers(n)] += rng.uniform(30, 60, 2)
        dst = f32(dst)
        M, inl = cv2.estimateAffinePartial2D(src, dst)
        inl = inl.ravel().astype(np.uint8)
        if inl.sum() != n - 1:
            continue
        assert np.abs(M - umeyama(src[inl == 1], dst[inl == 1])).max() < 1e-9
        t += [(f"outlier/{k}/src", src), (f"outlier/{k}/dst", dst), (f"outlier/{k}/M", M),
              (f"outlier/{k}/inliers", inl)]
        k += 1
    n_outlier = k

    template = np.array([[70, 100], [186, 100], [128, 144]], float)
    k, seen = 0, {True: 0, False: 0}
    while k < 16:  # the notebooks' three points: face-like triples with 0.5..8 px of shape noise
        M0 = random_similarity(rng, angle=0.6, smin=0.3, smax=1.5, shift=60)
        noise = rng.uniform(0.5, 8.0)
        src = f32(apply(np.linalg.inv(np.vstack([M0, [0, 0, 1]]))[:2], template) + rng.normal(0, noise, (3, 2)))
        dst = f32(template)
        M, inl = cv2.estimateAffinePartial2D(src, dst)
        ours, all_in = three_point_rule(src, dst)
        assert np.abs(M - ours).max() < 1e-6, "three-point rule disagrees with OpenCV"
        if seen[all_in] >= 8:
            continue
        seen[all_in] += 1
        t += [(f"three/{k}/src", src), (f"three/{k}/dst", dst), (f"three/{k}/M", M),
              (f"three/{k}/all_inliers", np.array([int(all_in)], np.uint8))]
        k += 1
    meta = {"umeyama_sets": n_umeyama, "opencv_sets": n_opencv, "outlier_sets": n_outlier, "three_sets": k,
            "opencv": cv2.__version__, "numpy": np.__version__}
    return t, meta


# ----------------------------------------------------------------------------- warp
def exact_bilinear(img, M, oh, ow, replicate, value):
    """Exact bilinear warp in float64 (HWC), OpenCV's pixel-centre convention, per-tap border."""
    H, W = img.shape[:2]
    Mi = cv2.invertAffineTransform(M)
    ys, xs = np.mgrid[0:oh, 0:ow].astype(np.float64)
    sx = Mi[0, 0] * xs + Mi[0, 1] * ys + Mi[0, 2]
    sy = Mi[1, 0] * xs + Mi[1, 1] * ys + Mi[1, 2]
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    f = img.astype(np.float64)

    def tap(yy, xx):
        v = f[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)]
        if replicate:
            return v
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        return np.where(inside[..., None], v, value)

    return ((1 - fy) * ((1 - fx) * tap(y0, x0) + fx * tap(y0, x0 + 1))
            + fy * ((1 - fx) * tap(y0 + 1, x0) + fx * tap(y0 + 1, x0 + 1)))


def smooth_image(rng, h, w, c, border_value=None):
    """Random image with a bounded gradient: a coarse random grid, bilinearly enlarged 12x.

    With a constant border the step from the image to the border counts as a gradient too, so for
    those cases the image stays within 60 levels of the border value and fades to it over the
    outer 8 pixels (slope at most 120 / 12 + 60 / 8 = 17.5 levels per pixel)."""
    lo, hi = (0.0, 255.0) if border_value is None else (border_value - 60.0, border_value + 60.0)
    coarse = rng.uniform(lo, hi, (h // 12 + 2, w // 12 + 2, c)).astype(np.float32)
    big = cv2.resize(coarse, (coarse.shape[1] * 12, coarse.shape[0] * 12), interpolation=cv2.INTER_LINEAR)
    big = big.reshape(big.shape[0], big.shape[1], c)[:h, :w].astype(np.float64)
    if border_value is not None:
        ys, xs = np.mgrid[0:h, 0:w]
        taper = np.minimum.reduce([(xs + 1) / 8.0, (w - xs) / 8.0, (ys + 1) / 8.0, (h - ys) / 8.0, np.ones((h, w))])
        big = border_value + (big - border_value) * taper[..., None]
    return big


def warp_goldens(rng):
    cases = [  # (dtype, layout, channels, border, border_value, smooth)
        (np.uint8, "HWC", 3, "replicate", 0, True),
        (np.uint8, "HWC", 3, "constant", 77, True),
        (np.uint8, "CHW", 1, "constant", 200, True),
        (np.uint8, "HWC", 4, "replicate", 0, True),
        (np.float32, "CHW", 3, "replicate", 0, True),
        (np.float32, "HWC", 2, "constant", -5.5, True),
        (np.uint8, "HWC", 3, "replicate", 0, False),
        (np.uint8, "CHW", 3, "constant", 31, False),
    ]
    t = []
    for k, (dt, layout, c, border, value, smooth) in enumerate(cases):
        lo, hi = (16, 25) if dt == np.uint8 and smooth else (11, 17)  # keep the file small
        B, H, W = 2, int(rng.integers(lo, hi)), int(rng.integers(lo, hi))
        oh, ow = int(rng.integers(lo - 2, hi + 2)), int(rng.integers(lo - 2, hi + 2))
        srcs, Ms, outs, exacts = [], [], [], []
        for _ in range(B):
            img = smooth_image(rng, H, W, c, value if border == "constant" else None) if smooth else rng.uniform(0, 256, (H, W, c))
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8) if dt == np.uint8 else img.astype(np.float32)
            if smooth:  # the premise of the within-one-level check, border step included
                f = img.astype(np.float64)
                if border == "constant":
                    f = np.pad(f, ((1, 1), (1, 1), (0, 0)), constant_values=value)
                assert max(np.abs(np.diff(f, axis=0)).max(), np.abs(np.diff(f, axis=1)).max()) <= 26
            # A random similarity about the centres, shifted so part of the output falls outside.
            th, s = rng.uniform(-np.pi, np.pi), rng.uniform(0.6, 1.6)
            A = s * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
            centre_in, centre_out = np.array([(W - 1) / 2, (H - 1) / 2]), np.array([(ow - 1) / 2, (oh - 1) / 2])
            tvec = centre_out - A @ centre_in + rng.uniform(-0.4, 0.4, 2) * [ow, oh]
            M = f32(np.hstack([A, tvec[:, None]]))
            mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
            out = cv2.warpAffine(img, M, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=mode,
                                 borderValue=(value, value, value, value))
            out = out.reshape(oh, ow, c)
            ex = exact_bilinear(img, M, oh, ow, border == "replicate", value)
            srcs.append(img), Ms.append(M), outs.append(out), exacts.append(ex)
        src, out, ex = np.stack(srcs), np.stack(outs), np.stack(exacts)
        d = np.abs(np.clip(np.rint(ex), 0, 255) - out) if dt == np.uint8 else np.abs(ex - out)
        print(f"warp case {k}: {np.dtype(dt).name} {layout} C={c} {border} smooth={smooth}: "
              f"|exact - opencv| max {d.max():.3f} mean {d.mean():.3f}")
        if smooth:
            assert d.max() <= 1.0
        if layout == "CHW":
            src, out, ex = (a.transpose(0, 3, 1, 2) for a in (src, out, ex))
        t += [(f"{k}/src", src), (f"{k}/M", np.stack(Ms).astype(np.float32)), (f"{k}/out", out)]
        if dt != np.uint8 or not smooth:  # the tight reference, where OpenCV's is loose
            t += [(f"{k}/exact", ex.astype(np.float32))]
        t += [(f"{k}/params", np.array([oh, ow, layout == "CHW", border == "constant", smooth], np.int32)),
              (f"{k}/border_value", np.array([value], np.float32))]
    return t, {"sets": len(cases), "opencv": cv2.__version__, "numpy": np.__version__}


# ----------------------------------------------------------------------------- study
def study(rng):
    print("estimateAffinePartial2D vs least squares (float32-exact inputs, all points inliers):")
    for noise in [0.0, 0.3]:
        for ri in [0, 1, 2, 10]:
            worst = 0.0
            for _ in range(200):
                src = f32(rng.uniform(0, 112, (5, 2)))
                dst = f32(apply(random_similarity(rng), src) + rng.normal(0, noise, (5, 2)))
                M, inl = cv2.estimateAffinePartial2D(src, dst, refineIters=ri)
                if inl.sum() == 5:
                    worst = max(worst, np.abs(M - umeyama(src, dst)).max())
            print(f"  noise {noise} px, refineIters {ri:2d}: worst |M_cv - M_lsq| {worst:.2e}")
    agree = 0
    for trial in range(3000):
        tmpl = np.array([[70, 100], [186, 100], [128, 144]], float) if trial % 3 == 0 else rng.uniform(0, 256, (3, 2))
        M0 = random_similarity(rng, angle=0.8, smin=0.3, smax=2.0, shift=80)
        src = f32(apply(np.linalg.inv(np.vstack([M0, [0, 0, 1]]))[:2], tmpl) + rng.normal(0, rng.uniform(0.01, 8), (3, 2)))
        M, _ = cv2.estimateAffinePartial2D(src, f32(tmpl))
        agree += np.abs(M - three_point_rule(src, f32(tmpl))[0]).max() < 1e-4
    print(f"three-point rule agrees with OpenCV on {agree} of 3000 random triples")
    diffs = []
    for _ in range(10):
        img = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
        M = f32(random_similarity(rng, smin=0.6, smax=1.6, shift=5))
        out = cv2.warpAffine(img, M, (40, 40), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        diffs.append(np.abs(np.rint(exact_bilinear(img, M, 40, 40, True, 0)) - out).ravel())
    diffs = np.concatenate(diffs)
    print(f"white-noise warp, exact bilinear vs OpenCV: max {diffs.max():.0f} levels, mean {diffs.mean():.3f}, "
          f"{(diffs <= 1).mean() * 100:.1f}% within one level")


def main():
    os.makedirs(OUT, exist_ok=True)
    t, meta = similarity_goldens(np.random.default_rng(20240611))
    write_safetensors(os.path.join(OUT, "similarity.safetensors"), t, meta)
    print("wrote", os.path.relpath(os.path.join(OUT, "similarity.safetensors")), meta)
    t, meta = warp_goldens(np.random.default_rng(20240612))
    write_safetensors(os.path.join(OUT, "warp.safetensors"), t, meta)
    print("wrote", os.path.relpath(os.path.join(OUT, "warp.safetensors")), meta)
    if "--study" in sys.argv[1:]:
        study(np.random.default_rng(7))


if __name__ == "__main__":
    main()
