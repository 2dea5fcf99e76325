#!/usr/bin/python3
"""tools/kernel_coverage.py — which handwritten CUDA kernels ran on the emulation, and how much.

    CUDAEMU_REPORT=build-emu/kernels.txt build-emu/ff_tests ...      # the emulator writes the report
    python3 tools/kernel_coverage.py build-emu/kernels.txt build-emu/ff_tests [--markdown]

Every __global__ function of kernels/*.cu and kernels/*.cuh is a kernel. The report (one line per
launched kernel function: launches, blocks, threads, the launch's name, its site, the function's
offset in the executable) names template kernels and kernels launched through a helper only by
the helper's parameter ("kernel"), so each offset is named with `nm -C` instead. Prints one row per
kernel (launches, blocks, threads; instantiations of a template summed) and exits with status 1
when a kernel never ran: every handwritten kernel must run in the emulated tests (issue 10).
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")


def source_kernels():
    """{kernel name: file} of every __global__ function under kernels/."""
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "kernels", "*.cu")) + glob.glob(os.path.join(ROOT, "kernels", "*.cuh"))):
        for name in KERNEL.findall(open(path).read()):
            found.setdefault(name, os.path.relpath(path, ROOT))
    return found


def base_name(demangled):
    """'ff::cuda::(anonymous namespace)::warp_k<unsigned char>(...)' -> 'warp_k'."""
    head = demangled
    depth, cut = 0, len(head)
    for i, ch in enumerate(head):  # the argument list starts at the first '(' outside <...>
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and not head.startswith("(anonymous", i):
            cut = i
            break
    head = head[:cut]
    while head.endswith(">"):  # drop template arguments
        depth, i = 0, len(head) - 1
        while i >= 0:
            depth += {">": 1, "<": -1}.get(head[i], 0)
            if depth == 0:
                break
            i -= 1
        head = head[:i]
    return head.split("::")[-1]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    report, binary = args
    symbols = {}
    nm = subprocess.run(["nm", "-C", "--defined-only", binary], stdout=subprocess.PIPE, text=True, check=True)
    for line in nm.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            symbols[int(parts[0], 16)] = base_name(parts[2])
    ran = {}
    for line in open(report):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        launches, blocks, threads, offset = int(f[0]), int(f[1]), int(f[2]), int(f[-1], 16)
        name = symbols.get(offset, f[3])
        r = ran.setdefault(name, [0, 0, 0])
        r[0] += launches
        r[1] += blocks
        r[2] += threads
    kernels = source_kernels()
    never = [k for k in kernels if k not in ran]
    if "--markdown" in sys.argv:
        print("| file | kernel | launches | blocks | threads |\n|---|---|---|---|---|")
        for k, path in kernels.items():
            r = ran.get(k)
            print("| %s | %s | %s |" % (path, k, " | ".join(str(v) for v in r) if r else "**never** | | "))
    else:
        for k, path in kernels.items():
            r = ran.get(k)
            print("   %-26s %-22s %s" % (path, k, "launches %d, blocks %d, threads %d" % tuple(r) if r else "NEVER RAN"))
    print("%d of %d handwritten kernels ran on the emulation%s" % (len(kernels) - len(never), len(kernels),
                                                                  "; never: " + ", ".join(never) if never else ""))
    return 1 if never else 0


if __name__ == "__main__":
    sys.exit(main())
