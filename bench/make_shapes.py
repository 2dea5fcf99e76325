#!/usr/bin/python3
"""Writes bench/shapes.json: the benchmark cases shared by our benchmarks (bench/bench_cpu.cpp,
bench/cuda/bench_cuda.cpp) and the PyTorch baselines (bench/torch_cpu_bench.py,
bench/torch_gpu_bench.py), with the FLOPs and bytes each moves, so both sides time the same work
and report the same rates.   /usr/bin/python3 bench/make_shapes.py"""
import json
import os


def conv(name, n, cin, cout, h, k, stride, pad, backward=False):
    ho = (h + 2 * pad - k) // stride + 1
    f = 2.0 * n * cout * ho * ho * cin * k * k
    return {"name": name, "kind": "conv2d", "inputs": [[n, cin, h, h], [cout, cin, k, k], [cout]],
            "stride": stride, "pad": pad, "backward": backward, "flops": f * (3 if backward else 1)}


def linear(name, n, i, o, backward=False):
    return {"name": name, "kind": "linear", "inputs": [[n, i], [o, i], [o]], "backward": backward,
            "flops": 2.0 * n * i * o * (3 if backward else 1)}


def ew(name, kind, n, nin):
    return {"name": name, "kind": kind, "inputs": [[n]] * nin, "bytes": 4.0 * n * (nin + 1)}


cpu = [
    conv("conv3x3_n4_c64_32x32", 4, 64, 64, 32, 3, 1, 1),
    conv("conv3x3_n4_c64_32x32_fwdbwd", 4, 64, 64, 32, 3, 1, 1, True),
    conv("conv1x1_n8_c256to128_16x16", 8, 256, 128, 16, 1, 1, 0),
    conv("conv7x7s2_n2_c3to64_128x128", 2, 3, 64, 128, 7, 2, 3),
    linear("linear_n256_2048to512", 256, 2048, 512),
    linear("linear_n256_2048to512_fwdbwd", 256, 2048, 512, True),
    ew("relu_4M", "relu", 1 << 22, 1),
    ew("add_4M", "add", 1 << 22, 2),
    {"name": "batch_norm2d_n8_c64_32x32_fwdbwd", "kind": "batch_norm2d", "inputs": [[8, 64, 32, 32], [64], [64]],
     "backward": True, "bytes": 4.0 * 8 * 64 * 32 * 32 * 5},
    {"name": "max_pool3x3s2_n8_c64_64x64", "kind": "max_pool2d", "inputs": [[8, 64, 64, 64]], "kernel": 3,
     "stride": 2, "pad": 1, "bytes": 4.0 * 8 * 64 * 64 * 64 * 1.25},
    {"name": "upsample2x_n4_c256_16x16", "kind": "upsample2x", "inputs": [[4, 256, 16, 16]],
     "bytes": 4.0 * 4 * 256 * 16 * 16 * 5},
]

gpu = [
    conv("conv3x3_n64_c64_56x56", 64, 64, 64, 56, 3, 1, 1),
    conv("conv3x3_n64_c64_56x56_fwdbwd", 64, 64, 64, 56, 3, 1, 1, True),
    conv("conv1x1_n64_c256to64_56x56", 64, 256, 64, 56, 1, 1, 0),
    conv("conv7x7s2_n64_c3to64_224x224", 64, 3, 64, 224, 7, 2, 3),
    linear("linear_n256_2048to512", 256, 2048, 512),
    linear("linear_n256_512to100000", 256, 512, 100000),
    ew("relu_64M", "relu", 1 << 26, 1),
    ew("add_64M", "add", 1 << 26, 2),
    {"name": "batch_norm2d_n64_c256_56x56", "kind": "batch_norm2d", "inputs": [[64, 256, 56, 56], [256], [256]],
     "bytes": 4.0 * 64 * 256 * 56 * 56 * 3},
    {"name": "max_pool3x3s2_n64_c64_112x112", "kind": "max_pool2d", "inputs": [[64, 64, 112, 112]], "kernel": 3,
     "stride": 2, "pad": 1, "bytes": 4.0 * 64 * 64 * 112 * 112 * 1.25},
    {"name": "upsample2x_n32_c256_32x32", "kind": "upsample2x", "inputs": [[32, 256, 32, 32]],
     "bytes": 4.0 * 32 * 256 * 32 * 32 * 5},
]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "shapes.json"), "w") as f:
    json.dump({"cpu": cpu, "gpu": gpu}, f, indent=1)
