#!/usr/bin/python3
"""PyTorch GPU baseline for bench/cuda/bench_cuda.cpp: the same cases (bench/shapes.json) on the
same input values, timed the same way, written as CSV; with --compare it prints one table of
ours vs PyTorch.

The protocol, identical on both sides (review S9; Triton's do_bench): warm-ups, one
synchronisation, then per timed run: queue the L2 flush (a 256 MiB zero_ on the current stream,
where ours flushes), record the start event, queue the work, record the end event, wait for the
end event; the median is reported. Inputs: bench_common.pattern() on the GPU, the values
ff_bench_cuda's pattern() makes (review I4: no CPU generator, no host-to-device copy).
What stays different is stated under the comparison table (memory peak, conv algorithm choice,
host synchronisations inside our ops).

    python3 bench/torch_gpu_bench.py --csv torch.csv [--tf32]
    python3 bench/torch_gpu_bench.py --dry-run [--csv f.csv]   # every case, tiny sizes, on the CPU
    python3 bench/torch_gpu_bench.py --compare ours.csv torch.csv

Sections, as in ff_bench_cuda:
  gpu          single ops (torch.nn.functional).
  gpu_nets     the networks of tools/torch_models.py built from our configuration strings, forward
               (eval, no_grad) and training step (bench/torch_nets_bench.py's TorchSteps: loss,
               backward, SGD). Needs torchvision; skipped with a message without it.
  gpu_arcface  PyTorch has no fused ArcFace: both rows (fused, unfused) time PyTorch's composition
               (bench_common.torch_arcface_loss), the fair peer of each, with its memory peak
               (torch.cuda.max_memory_allocated above what was allocated before the step).
  gpu_warp     float32 CHW: F.affine_grid + F.grid_sample (bilinear, border padding, the same
               matrices); uint8 HWC has no PyTorch peer (grid_sample takes floats only) and is
               left out. FP32 run only.
"""
import argparse
import csv
import os
import sys
import time

from bench_common import (dry_shapes, load_cases, pattern, pattern_labels, print_table, torch_arcface_loss, torch_case,
                          warp_theta)

HERE = os.path.dirname(os.path.abspath(__file__))

# Repeats as in ff_bench_cuda: (warm-ups, minimum runs, maximum runs, minimum total ms, flush L2)
OPS, NETS, ARCFACE, WARP = (3, 5, 1000, 200, True), (1, 3, 20, 300, False), (2, 5, 100, 200, True), (2, 5, 200, 100, True)


class Timer:
    def __init__(self, torch, dry):
        self.torch, self.dry = torch, dry
        if not dry:
            self.flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
            self.e0 = torch.cuda.Event(enable_timing=True)
            self.e1 = torch.cuda.Event(enable_timing=True)

    def ms(self, fn, reps):
        if self.dry:
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * 1e3
        warm, min_reps, max_reps, min_ms, flush = reps
        for _ in range(warm):
            fn()
        self.torch.cuda.synchronize()
        times, total = [], 0.0
        while (total < min_ms or len(times) < min_reps) and len(times) < max_reps:
            if flush:
                self.flush.zero_()  # queued, not waited for: as ff_bench_cuda (S9)
            self.e0.record()
            fn()
            self.e1.record()
            self.e1.synchronize()
            t = self.e0.elapsed_time(self.e1)
            times.append(t)
            total += t
        times.sort()
        return times[len(times) // 2]

    def peak_mib(self, fn):
        if self.dry:
            fn()
            return None
        torch = self.torch
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / (1 << 20)


def run_torch(out, tf32, dry):
    try:
        import torch
    except ImportError as e:
        print(f"torch_gpu_bench: PyTorch is not importable here ({e}): no baseline")
        return 3
    if not dry and not torch.cuda.is_available():
        print(f"torch_gpu_bench: no CUDA device (torch {torch.__version__}; --dry-run runs the cases on the CPU)")
        return 3
    device = "cpu" if dry else "cuda"
    if not dry:
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
              f"{torch.cuda.get_device_name(0)}, math: {'TF32' if tf32 else 'FP32'}", flush=True)
    if not dry:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    math = "tf32" if tf32 else "fp32"
    timer = Timer(torch, dry)
    dry_cfg = load_cases("dry_run")
    # Rows are written as they come, so a run cut short by gpu_check.sh's time budget keeps them.
    f = open(out, "w", newline="") if out else None
    wr = csv.writer(f) if f else None
    if wr:
        wr.writerow(["case", "math", "ms", "rate", "unit", "percent_of_limit", "peak_mib"])

    def emit(name, ms, rate="", unit="", peak=None):
        print(f"{name:40s} {ms:10.4f} {rate if rate == '' else f'{rate:10.2f}'} {unit}"
              + ("" if peak is None else f"  peak {peak:.0f} MiB"), flush=True)
        if wr:
            wr.writerow([name, math, ms, rate, unit, "", "" if peak is None else peak])
            f.flush()

    # Single ops.
    for c in load_cases("gpu"):
        if dry:
            c = dict(c, inputs=dry_shapes(c, dry_cfg))
        emit(c["name"], timer.ms(torch_case(torch, c, device, inputs="pattern"), OPS))

    # Whole networks.
    try:
        sys.path.insert(0, HERE)
        from torch_nets_bench import TorchSteps
    except ImportError as e:  # torchvision missing on this machine
        print(f"gpu_nets skipped: {e}")
        TorchSteps = None
    if TorchSteps is not None:
        for c in load_cases("gpu_nets"):
            d = dry_cfg["nets"]
            config = d[c["net"]] if dry else c["config"]
            batch, classes = (d["batch"], d["classes"]) if dry else (c["batch"], c["classes"])
            cfg = dict(kv.split("=", 1) for kv in config.split(","))
            try:
                steps = TorchSteps(c["net"], cfg, batch, classes, device)
                for mode, fn in (("_forward", steps.forward), ("_train", steps.train_step)):
                    ms = timer.ms(fn, NETS)
                    emit(c["name"] + mode, ms, batch / (ms * 1e-3), "img/s")
                del steps
            except RuntimeError as e:  # out of memory: report, go on
                print(f"{c['name']}: FAILED: {str(e).splitlines()[0]}")
            if not dry:
                torch.cuda.empty_cache()

    # ArcFace head: PyTorch's composition for both rows.
    for c in load_cases("gpu_arcface"):
        p = dry_cfg["arcface"] if dry else c
        e = pattern(torch, (p["n"], p["dim"]), 0, device).requires_grad_()
        w = pattern(torch, (p["classes"], p["dim"]), 1, device).requires_grad_()
        labels = pattern_labels(torch, p["n"], p["classes"], device)

        def step():
            torch_arcface_loss(torch, e, w, labels, c["s"], c["m"]).backward()
            e.grad = None
            w.grad = None
        step()
        peak = timer.peak_mib(step)
        ms = timer.ms(step, ARCFACE)
        emit(c["name"], ms, c["bytes"] / (ms * 1e-3) / 1e9, "GB/s", peak)
        del e, w
        if not dry:
            torch.cuda.empty_cache()

    # Affine warp, float32 CHW only.
    if not tf32:
        F = torch.nn.functional
        for c in load_cases("gpu_warp"):
            if c["dtype"] != "float32":
                continue
            batch = dry_cfg["warp"]["batch"] if dry else c["batch"]
            x = torch.full((batch, c["channels"], c["src"], c["src"]), 0.5, device=device)
            theta = warp_theta(torch, batch, c["src"], c["out"]).to(device)
            size = (batch, c["channels"], c["out"], c["out"])

            def warp():
                grid = F.affine_grid(theta, size, align_corners=False)
                return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
            ms = timer.ms(warp, WARP)
            emit(c["name"], ms, c["bytes"] * batch / c["batch"] / (ms * 1e-3) / 1e9, "GB/s")
            del x
            if not dry:
                torch.cuda.empty_cache()

    if f:
        f.close()
    return 0


# Printed under the table: what the protocol does not make equal (review S9).
NOTES = """\
torch/ours: PyTorch's time over ours (above 1: ours is faster). Same protocol both sides: L2 flush queued
  on the stream (single ops, ArcFace, warp), events around the work, no host sync in between, median.
* peak MiB: ours counts our caching allocator's blocks (512 B granules below 1 MiB, 2 MiB above);
  PyTorch's is torch.cuda.max_memory_allocated (512 B blocks), both above what was allocated before
  the step: ours can read up to 2 MiB per live large tensor higher for the same bytes.
Conv algorithms: PyTorch measures them per shape (cudnn.benchmark=True); ours come from our own choice
  in kernels/conv.cu (heuristics at dbf311f, review S5), so conv rows compare the choice as well.
Our rows include every host synchronisation our ops make inside a step (review S1: label checks in
  ArcFace and cross-entropy at dbf311f); PyTorch's composition makes none.
uint8 HWC warps have no PyTorch peer (grid_sample takes floats only)."""


def compare(ours_csv, torch_csv):
    """Prints ours against PyTorch, one row per case and math; a missing or empty CSV (a run that
    did not happen or was cut short) leaves its column n/a instead of failing."""
    def load(p):
        try:
            with open(p) as f:
                return {(r["case"], r["math"]): r for r in csv.DictReader(f) if r.get("ms")}
        except (OSError, csv.Error, KeyError) as e:
            print(f"({p}: {e})")
            return {}

    def ms(r):
        return f"{float(r['ms']):.4f}" if r else "n/a"

    def peak(r):
        v = r.get("peak_mib", "") if r else ""
        if v in ("", None):
            return "-"
        return f"{float(v):.0f}" if float(v) >= 10 else f"{float(v):.1f}"
    ours, ref = load(ours_csv), load(torch_csv)
    rows = []
    for key in list(ours) + [k for k in ref if k not in ours]:
        r, t = ours.get(key), ref.get(key)
        ratio = f"{float(t['ms']) / float(r['ms']):.2f}x" if r and t and float(r["ms"]) > 0 else "n/a"
        pct = r.get("percent_of_limit", "") if r else ""
        rate = f"{float(r['rate']):.2f} {r['unit']}" if r and r.get("rate") else "n/a"
        rows.append([key[0], key[1], ms(r), ms(t), ratio, rate, f"{float(pct):.1f}%" if pct else "-", peak(r), peak(t)])
    print(f"faceforge: {len(ours)} rows from {ours_csv}; PyTorch: {len(ref)} rows from {torch_csv}")
    print_table(rows, ["case", "math", "faceforge ms", "torch ms", "torch/ours", "faceforge rate", "% of limit",
                       "ff peak MiB*", "torch peak MiB*"])
    if not rows:
        print("(no rows: no GPU numbers were measured)")
    print(NOTES)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--compare", nargs=2)
    a = ap.parse_args()
    if a.compare:
        compare(*a.compare)
    else:
        sys.exit(run_torch(a.csv, a.tf32, a.dry_run))
