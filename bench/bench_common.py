"""Shared by the PyTorch baseline scripts: the cases of bench/shapes.json run in torch, the timing
loop, machine limits, and the comparison table."""
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load_cases(section):
    with open(os.path.join(HERE, "shapes.json")) as f:
        return json.load(f)[section]


def pattern(torch, shape, salt, device):
    """Benchmark input number `salt`, made where it is used: element i is float(h) * 2^-31 - 1,
    h the low 32 bits of (i + salt * 1000003) * 2654435761, the same values bit for bit as
    ff_bench_cuda's pattern() (bench/cuda/bench_cuda.cpp), in [-1, 1] with every mantissa bit in
    use. A few element-wise kernels on the GPU instead of a CPU generator and a copy (review I4)."""
    n = 1
    for d in shape:
        n *= d
    h = (torch.arange(n, dtype=torch.int64, device=device) + salt * 1000003) * 2654435761
    h = h & 0xFFFFFFFF  # the wrapped int64 product keeps the low 32 bits exact
    return (h.to(torch.float32) * 2.0 ** -31 - 1.0).reshape(shape)


def pattern_labels(torch, n, classes, device):
    """ArcFace labels as ff_bench_cuda makes them: (j * 7919) mod classes."""
    return (torch.arange(n, dtype=torch.int64, device=device) * 7919) % classes


def torch_case(torch, case, device, inputs="rand"):
    """Returns a closure that runs the case once in torch on `device`. inputs="rand": uniform
    [-1, 1) from a seeded CPU generator (the CPU benchmarks); "pattern": pattern() on `device`,
    the inputs ff_bench_cuda uses."""
    F = torch.nn.functional
    if inputs == "pattern":
        ins = [pattern(torch, s, k, device) for k, s in enumerate(case["inputs"])]
    else:
        g = torch.Generator().manual_seed(1)
        ins = [(torch.rand(s, generator=g) * 2 - 1).to(device) for s in case["inputs"]]
    bwd = case.get("backward", False)
    if bwd:
        for t in ins:
            t.requires_grad_(True)
    kind = case["kind"]
    rm = torch.zeros(ins[0].shape[1], device=device) if kind == "batch_norm2d" else None
    rv = torch.ones(ins[0].shape[1], device=device) if kind == "batch_norm2d" else None

    def run():
        if kind == "conv2d":
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, case["stride"], case["pad"])
        elif kind == "linear":
            y = F.linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None)
        elif kind == "relu":
            y = F.relu(ins[0])
        elif kind == "add":
            y = ins[0] + ins[1]
        elif kind == "batch_norm2d":
            y = F.batch_norm(ins[0], rm, rv, ins[1], ins[2], True)
        elif kind == "max_pool2d":
            y = F.max_pool2d(ins[0], case["kernel"], case["stride"], case["pad"])
        elif kind == "upsample2x":
            y = F.interpolate(ins[0], scale_factor=2, mode="bilinear", align_corners=True)
        else:
            raise SystemExit("unknown kind " + kind)
        if bwd:
            y.sum().backward()
            for t in ins:
                t.grad = None
        return y
    return run


def time_cpu(fn, min_time=0.5):
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt > min_time and n >= 3:
            return dt / n


def cpu_peak_gflops():
    """Approximate FP32 peak of this machine's usable cores: cores x GHz x FLOPs/cycle (AVX-512:
    64, AVX2+FMA: 32, else 16)."""
    flags, mhz = "", 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags") and not flags:
                flags = line
            if line.startswith("cpu MHz") and not mhz:
                mhz = float(line.split(":")[1])
    per = 64 if " avx512f" in flags else (32 if " fma" in flags else 16)
    return len(os.sched_getaffinity(0)) * mhz / 1000.0 * per


def print_table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def torch_arcface_loss(torch, emb, weight, labels, s=45.0, m=0.1):
    """The ArcFace head as PyTorch users write it (the reference notebooks' composition, as in
    tools/make_model_goldens.py): normalise, product, margin on the target cosine through a
    one-hot matrix, scaled cross-entropy. PyTorch has no fused ArcFace: this is the peer."""
    import math
    F = torch.nn.functional
    cos = F.linear(F.normalize(emb), F.normalize(weight))
    tc = cos.gather(1, labels[:, None]).squeeze(1)
    c = tc.clamp(-1, 1)
    sine = (1 - c * c).clamp(min=1e-12).sqrt()
    phi = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sine * math.sin(m), c - math.sin(math.pi - m) * m)
    onehot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
    return F.cross_entropy(s * (onehot * phi[:, None] + (1 - onehot) * cos), labels)


def dry_shapes(case, dry):
    """Input shapes of a single-op case, cut down for a dry run exactly as ff_bench_cuda does."""
    shapes = [list(s) for s in case["inputs"]]
    if len(shapes[0]) in (2, 4):
        shapes[0][0] = min(shapes[0][0], dry["ops_batch"])
    for s in shapes:
        if len(s) == 1 and case["kind"] not in ("conv2d", "linear", "batch_norm2d"):
            s[0] = min(s[0], dry["ops_elems"])
    return shapes


def warp_theta(torch, batch, src, out):
    """affine_grid matrices [B, 2, 3] equal to ff_bench_cuda's warp matrices: per image a
    similarity mapping the whole source square onto the output, rotated -10..10 degrees about
    the centres. Ours map source pixels to output pixels (pixel centres at integers); affine_grid
    maps normalised output coordinates to normalised source ones (align_corners=False)."""
    import math
    sc, cs, cd = out / src, (src - 1) / 2, (out - 1) / 2
    thetas = []
    for b in range(batch):
        a = math.radians(-10.0 + 20.0 * b / max(batch - 1, 1))
        c, s = sc * math.cos(a), sc * math.sin(a)
        m = torch.tensor([[c, -s, cd - (c * cs - s * cs)], [s, c, cd - (s * cs + c * cs)], [0, 0, 1]], dtype=torch.float64)
        inv = torch.linalg.inv(m)  # output pixel -> source pixel
        n_src = torch.tensor([[2 / src, 0, 1 / src - 1], [0, 2 / src, 1 / src - 1], [0, 0, 1]], dtype=torch.float64)
        n_out_inv = torch.tensor([[out / 2, 0, (out - 1) / 2], [0, out / 2, (out - 1) / 2], [0, 0, 1]], dtype=torch.float64)
        thetas.append((n_src @ inv @ n_out_inv)[:2])
    return torch.stack(thetas).float()


def report(rows, header, csv_path=""):
    """Prints the table and, when csv_path is given, writes the same rows as CSV."""
    import csv
    print_table(rows, header)
    if csv_path:
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
