"""Convolution and pooling (C++ side: tests/cases_conv.cpp — same names, shape sets, stride, pad)."""
import torch.nn.functional as F

from goldens.common import Case


def conv_sets(sets, k, bias):
    """(n, cin, h, w, cout) -> input shapes [x, w(, b)]."""
    out = []
    for n, cin, h, w, cout in sets:
        shapes = [(n, cin, h, w), (cout, cin, k, k)]
        if bias:
            shapes.append((cout,))
        out.append(shapes)
    return out


def conv_case(name, k, stride, pad, bias, sets, ref64=False):
    if bias:
        fn = lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad)  # noqa: E731
        grads = [0, 1, 2]
    else:
        fn = lambda x, w: F.conv2d(x, w, None, stride=stride, padding=pad)  # noqa: E731
        grads = [0, 1]
    return Case(name, conv_sets(sets, k, bias), fn, grads, ref64=ref64)


def pool_case(name, k, stride, pad, shapes, ceil_mode=False):
    return Case(name, [[s] for s in shapes], lambda x: F.max_pool2d(x, k, stride, pad, ceil_mode=ceil_mode), [0])


CASES = [
    conv_case("conv2d_1x1", 1, 1, 0, True, [(2, 3, 5, 6, 4), (1, 4, 7, 7, 3), (2, 5, 3, 4, 2)]),
    conv_case("conv2d_1x1_nobias", 1, 1, 0, False, [(2, 3, 5, 6, 4), (1, 4, 7, 7, 3)]),
    conv_case("conv2d_1x1_s2", 1, 2, 0, False, [(2, 3, 7, 7, 4), (1, 2, 6, 5, 3)]),
    conv_case("conv2d_3x3", 3, 1, 1, True, [(2, 3, 7, 7, 4), (1, 2, 5, 6, 3), (2, 1, 4, 4, 2)]),
    conv_case("conv2d_3x3_s2", 3, 2, 1, True, [(2, 3, 7, 7, 4), (1, 2, 5, 6, 3), (2, 2, 8, 8, 3)]),
    conv_case("conv2d_7x7_s2", 7, 2, 3, False, [(2, 2, 9, 11, 3), (1, 2, 7, 7, 3), (2, 1, 5, 6, 2)]),
    conv_case("conv2d_3x3_p0", 3, 1, 0, True, [(2, 3, 7, 7, 4), (1, 2, 5, 6, 3), (1, 2, 3, 3, 2)]),
    # the kernel paths of kernels/conv_cpu.cpp with several images per thread (see tests/cases_conv.cpp)
    # (float64 references: weight gradients sum 5,000 to 12,000 products)
    conv_case("conv2d_1x1_direct", 1, 1, 0, True, [(4, 2, 32, 32, 2), (5, 1, 32, 40, 2)], ref64=True),
    conv_case("conv2d_3x3_chunks", 3, 1, 1, True, [(10, 1, 32, 32, 1)], ref64=True),
    conv_case("conv2d_3x3_image_chunks", 3, 1, 1, False, [(3, 1, 64, 64, 1)], ref64=True),
    conv_case("conv2d_3x3_gemm_split", 3, 1, 1, True, [(1, 4, 32, 32, 8)], ref64=True),
    pool_case("max_pool2d_2x2", 2, 2, 0, [(2, 3, 7, 7), (1, 2, 6, 5), (2, 1, 4, 4)]),
    pool_case("max_pool2d_3x3_s2", 3, 2, 1, [(2, 3, 7, 7), (1, 2, 5, 6), (1, 2, 8, 8)]),
    pool_case("max_pool2d_3x3_s1", 3, 1, 1, [(1, 2, 5, 6), (2, 1, 4, 4)]),
    pool_case("max_pool2d_2x2_ceil", 2, 2, 0, [(2, 3, 7, 7), (1, 2, 6, 5), (1, 1, 5, 8)], ceil_mode=True),
    pool_case("max_pool2d_3x3_s2_ceil", 3, 2, 0, [(2, 3, 7, 7), (1, 2, 8, 6), (1, 2, 10, 11)], ceil_mode=True),
    pool_case("max_pool2d_3x3_s3_p1_ceil", 3, 3, 1, [(1, 2, 5, 5), (2, 1, 7, 8)], ceil_mode=True),
    Case("adaptive_avg_pool2d_1x1", [[(2, 3, 7, 7)], [(1, 4, 5, 6)], [(2, 2, 1, 1)]],
         lambda x: F.adaptive_avg_pool2d(x, 1), [0]),
]
