#!/usr/bin/python3
"""Writes bench/shapes.json: the benchmark cases shared by our benchmarks (bench/bench_cpu.cpp,
bench/cuda/bench_cuda.cpp) and the PyTorch baselines (bench/torch_cpu_bench.py,
bench/torch_gpu_bench.py), with the FLOPs and bytes each moves, so both sides time the same work
and report the same rates.   /usr/bin/python3 bench/make_shapes.py

Sections: "cpu" and "gpu" (single ops), and for the GPU only: "gpu_nets" (whole networks, forward
and training step, images/s), "gpu_arcface" (the ArcFace head, fused and unfused, with its device
memory peak), "gpu_warp" (the batched affine warp), and "dry_run" (the tiny sizes that
`ff_bench_cuda --dry-run` and `torch_gpu_bench.py --dry-run` substitute to run every code path
on the CPU)."""
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

# Whole networks at the reference configurations (models/hourglass.h, models/resnet.h). Each entry
# is timed twice from one instance: "<name>_forward" (eval, no autograd) and "<name>_train" (zero
# grad, forward, loss, backward, SGD step; bench/net_steps.h). The embedding net trains with the
# fused ArcFace head over CelebA's 10,177 identities.
HG_REF = "stem=64,mid=128,channels=256,stacks=2,landmarks=5,input=256"
EMB_REF = "width=1,blocks=3:4:6:3,classes=0,input=112,embedding=512,dropout=0.7"
gpu_nets = [{"name": f"{net}_b{b}", "net": net, "config": cfg, "batch": b, "classes": 10177}
            for net, cfg in (("hourglass", HG_REF), ("embedding", EMB_REF)) for b in (64, 256)]


def arcface(fused, n=256, c=100000, d=512):
    # Nominal bytes of one forward + backward step, the passes of the fused path: normalise W
    # (read W, write Wn), cos = En Wnᵀ (read Wn, write cos), the fused loss (read cos, write its
    # gradient in place), dEn = g Wn (read g, Wn), dWn = gᵀ En (read g, write dWn), the
    # normalisation's backward (read dWn and W, write dW): 8|W| + 5|N×C|. The unfused path is
    # charged the same bytes, so its lower GB/s is the cost of its extra passes.
    w, nc = 4.0 * c * d, 4.0 * n * c
    return {"name": f"arcface_{'fused' if fused else 'unfused'}_n{n}_c{c // 1000}k_d{d}", "n": n, "classes": c,
            "dim": d, "fused": fused, "s": 45.0, "m": 0.1, "bytes": 8 * w + 5 * nc}


gpu_arcface = [arcface(True), arcface(False)]


def warp(batch, src, out, dtype, layout):
    # Nominal bytes: every source pixel read once, every output pixel written once (the matrices
    # map the whole source onto the output, so the source is all read).
    es = 4 if dtype == "float32" else 1
    return {"name": f"warp_{'f32chw' if dtype == 'float32' else 'u8hwc'}_{batch}x{src}_to_{out}", "batch": batch,
            "channels": 3, "src": src, "out": out, "dtype": dtype, "layout": layout,
            "bytes": float(es * batch * 3 * (src * src + out * out))}


# Alignment of detected faces (1,024 photos of 250x250, LFW's size, to 112x112 faces) and the
# hourglass's input (256 crops of 384x384 to 256x256); float32 CHW has a PyTorch peer
# (affine_grid + grid_sample), uint8 HWC (decoded photos) has none.
gpu_warp = [warp(1024, 250, 112, "float32", "chw"), warp(1024, 250, 112, "uint8", "hwc"),
            warp(256, 384, 256, "float32", "chw"), warp(256, 384, 256, "uint8", "hwc")]

dry_run = {
    "ops_batch": 2, "ops_elems": 65536,
    "nets": {"hourglass": "stem=8,mid=16,channels=16,stacks=2,landmarks=5,input=64",
             "embedding": "width=0.125,blocks=1:1:1:1,classes=0,input=32,embedding=16,dropout=0.7",
             "batch": 2, "classes": 50},
    "arcface": {"n": 8, "classes": 1000, "dim": 32},
    "warp": {"batch": 2},
}

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "shapes.json"), "w") as f:
    json.dump({"cpu": cpu, "gpu": gpu, "gpu_nets": gpu_nets, "gpu_arcface": gpu_arcface, "gpu_warp": gpu_warp,
               "dry_run": dry_run}, f, indent=1)
