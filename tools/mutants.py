#!/usr/bin/python3
"""tools/mutants.py — the emulated CUDA tests' teeth: apply deliberate kernel bugs one at a time and
show that the tests running on the CPU emulation of CUDA (cudaemu/, -DFF_CUDA_EMU=ON) fail on each.

    python3 tools/mutants.py [--build build-emu] [--asan-build build-emu-asan]
                             [--tsan-build build-emu-tsan] [--only M1,M4]
                             [--table docs/mutants.md] [--timeout 120]

For every mutant below the script
  1. replaces one exact piece of text in one kernel file (it must occur exactly once),
  2. rebuilds ff_tests in the emulated build folder (and ff_emu_tests, --asan-target, in the
     ASan+UBSan and ThreadSanitizer ones when given),
  3. runs the mutant's tests in each mode (MODES: thread schedule CUDAEMU_SCHEDULE, block order
     CUDAEMU_BLOCK_ORDER, and, when given, ASan+UBSan and TSan), and records what caught it: FAIL (a
     test's assertion, with the tests' names), crash (a signal, a sanitizer report, an emulator
     error or a hang past --timeout) or masked (every test passed); n/a where the binary has none
     of the mutant's tests (ff_emu_tests holds only the emulator's self-tests and the op table),
  4. restores the file (also on Ctrl-C or an error) and goes on.
Before the first mutant it runs every mutant's tests on the unchanged source, which must pass: a
test that fails anyway catches nothing. At the end it rebuilds the unchanged source and writes the
table (markdown) to --table: between the lines "<!-- mutants-table -->" and
"<!-- /mutants-table -->" when the file has them (docs/mutants.md), else the whole file. Exit
status 1 when a mutant is masked in every mode (except those marked `expect`: bugs that only a
race detector can see, listed for the record), or the baseline fails. A mutant costs one
recompile of one kernel file and a link (every .cu file for kernels/cuda_common.cuh), then
seconds of tests.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# id, what the bug is, file, exact old text, new text, gtest filter of the tests meant to catch it.
# Filled in below (MUTANTS); each targets a kernel the CUDA-vs-CPU tests run on the emulator.
MUTANTS = []


def mutant(mid, what, path, old, new, tests, expect=None):
    """expect: None, or why every mode here is expected to miss it (then it does not fail the run)."""
    MUTANTS.append(dict(id=mid, what=what, path=path, old=old, new=new, tests=tests, expect=expect))


mutant("M1", "bound off by one (pass 2 writes one element past the row)", "kernels/arcface.cu",
       "for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {\n    if (j == y)",
       "for (int64_t j = threadIdx.x; j <= c; j += blockDim.x) {\n    if (j == y)",
       "*CudaVsCpu*arcface*")
mutant("M2", "missing __syncthreads (warp partials read before written)", "kernels/reduce.cuh",
       "  if (lane == 0) sh[warp] = v;\n  __syncthreads();\n",
       "  if (lane == 0) sh[warp] = v;\n",
       "*CudaVsCpu*sum*:*CudaVsCpu*mse*:*CudaVsCpu*cross_entropy*:CudaSizes.SumAndMean*")
mutant("M3", "wrong shuffle offset (warp sum over 16 lanes)", "kernels/linear.cu",
       "for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync",
       "for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync",
       "*CudaVsCpu*l2_normalize*")
mutant("M4", "wrong reduction tree (argmax tree starts at a quarter)", "kernels/heatmap.cu",
       "for (int s = blockDim.x / 2; s > 0; s >>= 1)",
       "for (int s = blockDim.x / 4; s > 0; s >>= 1)",
       "Heatmap.CudaMatches*")
mutant("M4b", "wrong reduction tree (last step skipped)", "kernels/batchnorm.cu",
       "for (int w = blockDim.x / 2; w > 0; w >>= 1)",
       "for (int w = blockDim.x / 2; w > 1; w >>= 1)",
       "*CudaVsCpu*batch_norm2d_eval*:CudaSizes.*")
mutant("M6", "grid-stride loop replaced by one pass (maps past the grid)", "kernels/heatmap.cu",
       "for (int64_t m = blockIdx.x; m < n; m += gridDim.x)",
       "for (int64_t m = blockIdx.x; m < n; m += n)",
       "Heatmap.CudaMatches*")
mutant("M5", "int32 index overflow (32-bit grid-stride index)", "kernels/cuda_common.cuh",
       "for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;",
       "for (int i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;",
       "CudaBigIndex.*")
mutant("M6b", "grid-stride loop replaced by one pass (FF_KERNEL_LOOP)", "kernels/cuda_common.cuh",
       "i < (n); i += (int64_t)blockDim.x * gridDim.x)",
       "i < (n); i += (n))",
       "CudaBigIndex.*")
mutant("M7", "atomicAdd replaced by a plain += (scatter race)", "kernels/upsample.cu",
       "atomicAdd(r0 + b.i0, a.w0 * b.w0 * v);",
       "r0[b.i0] += a.w0 * b.w0 * v;",
       "*CudaVsCpu*upsample*:CudaSizes.*",
       expect="one fiber runs at a time, switching only at barriers and warp collectives, so the "
              "read-modify-write is never interleaved: only the TSan mode sees it")
mutant("M8", "shared-memory overflow (tile one row short)", "kernels/linear.cu",
       "__shared__ float part[kRowLanes][kColTile];",
       "__shared__ float part[kRowLanes - 1][kColTile];",
       "*CudaVsCpu*linear*:CudaSizes.*:KernelPaths.*")

# (folder key, CUDAEMU_SCHEDULE, CUDAEMU_BLOCK_ORDER, label); "asan" modes only with --asan-build,
# "tsan" ones only with --tsan-build (ThreadSanitizer: OpenMP held to one thread, as libgomp is not
# instrumented and its threads would give false reports in the CPU twins).
MODES = [("plain", "forward", "forward", "forward"),
         ("plain", "reverse", "forward", "reverse"),
         ("plain", "random:1", "forward", "random:1"),
         ("plain", "forward", "reverse", "forward, blocks reversed"),
         ("asan", "random:1", "random:2", "ASan+UBSan, random:1, blocks random:2"),
         ("tsan", "random:1", "forward", "TSan, random:1")]


def run(cmd, env=None, timeout=None):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace")
        return p.returncode, p.stdout, time.time() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout", out, time.time() - t0


def build(folder, target):
    rc, out, secs = run(["nice", "-n", "5", "cmake", "--build", folder, "-j", "2", "--target", target])
    if rc != 0:
        sys.stdout.write(out[-3000:])
    return rc == 0, secs


def classify(rc, out):
    """What a test run says about a mutant: ('pass'|'FAIL'|'crash', detail)."""
    failed = sorted(set(re.findall(r"^\[  FAILED  \] ([A-Za-z0-9_/.]+)", out, re.M)))
    sanitizer = re.search(r"(AddressSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer)[^\n]*|"
                          r"runtime error:[^\n]*", out)
    if rc == "timeout":
        return "crash", "timeout (hang)"
    if sanitizer:
        return "crash", sanitizer.group(0).strip()[:120]
    if rc == 0:
        return "pass", ""
    if failed:
        return "FAIL", ", ".join(failed)
    if isinstance(rc, int) and rc < 0:
        return "crash", "signal %d" % -rc
    emu = re.search(r"\[cudaemu\][^\n]*", out)
    return "crash", (emu.group(0) if emu else "exit status %s" % rc)[:120]


def listed(binary, tests):
    """How many tests of binary the gtest filter selects."""
    rc, out, _ = run([binary, "--gtest_list_tests", "--gtest_filter=" + tests], timeout=120)
    return sum(1 for l in out.splitlines() if l.startswith("  ")) if rc == 0 else 0


def run_tests(binary, tests, schedule, block_order, timeout, tsan=False):
    if listed(binary, tests) == 0:
        return "n/a", "none of these tests in " + os.path.basename(binary), 0.0
    env = dict(os.environ, CUDAEMU_SCHEDULE=schedule, CUDAEMU_BLOCK_ORDER=block_order,
               OMP_WAIT_POLICY="PASSIVE", ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1", TSAN_OPTIONS="halt_on_error=1")
    if tsan:  # libgomp is not instrumented: one OpenMP thread
        env["OMP_NUM_THREADS"] = "1"
    rc, out, secs = run([binary, "--gtest_brief=1", "--gtest_filter=" + tests], env=env, timeout=timeout)
    return classify(rc, out) + (secs,)


def cell(verdict, detail):
    """A table cell: masked, n/a, or the verdict with (at most two of) the failing tests' names."""
    if verdict in ("pass", "n/a"):
        return {"pass": "masked", "n/a": "n/a"}[verdict]
    if verdict == "FAIL":
        names = detail.split(", ")
        short = [n.replace("Ops/OpCaseTest.", "") for n in names[:2]]
        return "**FAIL** %d: %s%s" % (len(names), ", ".join(short), ", …" if len(names) > 2 else "")
    return "**%s** %s" % (verdict, detail.replace("|", "\\|"))


def write_table(path, table):
    begin, end = "<!-- mutants-table -->", "<!-- /mutants-table -->"
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text and end in text:
        text = text[:text.index(begin) + len(begin)] + "\n" + table + text[text.index(end):]
    else:
        text = table
    tmp = path + ".tmp"
    open(tmp, "w").write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-emu")
    ap.add_argument("--asan-build", default=None)
    ap.add_argument("--only", default=None, help="comma-separated mutant ids")
    ap.add_argument("--asan-target", default="ff_emu_tests", help="the test binary built in --asan-build")
    ap.add_argument("--tsan-build", default=None, help="a ThreadSanitizer build folder (ff_emu_tests)")
    ap.add_argument("--table", default=None, help="write the markdown table here")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per test run (a hang is a catch)")
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m["id"] in args.only.split(",")]
    targets = {"plain": (args.build, "ff_tests"), "asan": (args.asan_build, args.asan_target),
               "tsan": (args.tsan_build, args.asan_target)}
    modes = [(targets[k], sched, blocks, label, k == "tsan") for k, sched, blocks, label in MODES
             if targets[k][0]]
    folders = sorted({ft for ft, _, _, _, _ in modes})
    t_start = time.time()

    for m in chosen:  # every mutant applies to the source as it is now
        text = open(os.path.join(ROOT, m["path"])).read()
        if text.count(m["old"]) != 1:
            sys.exit("%s: the text to change occurs %d times in %s (must be once)"
                     % (m["id"], text.count(m["old"]), m["path"]))

    print("== baseline: every mutant's tests on the unchanged source", flush=True)
    for f, target in folders:
        ok, _ = build(f, target)
        if not ok:
            sys.exit("the unchanged source does not build in " + f)
    all_tests = ":".join(sorted({t for m in chosen for t in m["tests"].split(":")}))
    for (folder, target), schedule, blocks, label, tsan in modes:
        verdict, detail, secs = run_tests(os.path.join(folder, target), all_tests, schedule, blocks,
                                          args.timeout, tsan)
        print("   %-40s %s %s (%.0f s)" % (label, verdict, detail, secs), flush=True)
        if verdict not in ("pass", "n/a"):
            sys.exit("baseline fails: a test that fails on the unchanged source catches nothing")

    rows, masked = [], []
    for m in chosen:
        path = os.path.join(ROOT, m["path"])
        original = open(path).read()
        line = original[:original.index(m["old"])].count("\n") + 1
        print("== %s %s (%s:%d)" % (m["id"], m["what"], m["path"], line), flush=True)
        cells, t0, build_secs = [], time.time(), 0.0
        try:
            open(path, "w").write(original.replace(m["old"], m["new"]))
            for f, target in folders:
                ok, secs = build(f, target)
                build_secs += secs
                if not ok:
                    sys.exit("%s does not compile: a mutant must be a bug, not a syntax error" % m["id"])
            for (folder, target), schedule, blocks, label, tsan in modes:
                verdict, detail, secs = run_tests(os.path.join(folder, target), m["tests"], schedule, blocks,
                                                  args.timeout, tsan)
                print("   %-40s %s %s (%.0f s)" % (label, verdict, detail, secs), flush=True)
                cells.append(cell(verdict, detail))
        finally:
            open(path, "w").write(original)
        caught = any(c not in ("masked", "n/a") for c in cells)
        if not caught and not m["expect"]:
            masked.append(m["id"])
        what = m["what"] + (" (expected masked: %s)" % m["expect"] if m["expect"] else "")
        change = "`%s` → `%s`" % (m["old"].strip().replace("\n", " ").replace("|", "\\|"),
                                  m["new"].strip().replace("\n", " ").replace("|", "\\|"))
        rows.append("| %s %s | `%s:%d` | %s | `%s` | %s | %.0f + %.0f |" % (
            m["id"], what, m["path"], line, change, m["tests"], " | ".join(cells), build_secs,
            time.time() - t0 - build_secs))

    for f, target in folders:  # leave the build folders as the unchanged source
        build(f, target)
    header = ("| mutant | where | change | tests (gtest filter) | " + " | ".join(l for _, _, _, l, _ in modes) +
              " | build + tests (s) |\n|" + "---|" * (5 + len(modes)) + "\n")
    table = header + "\n".join(rows) + "\n\n%d mutants, %.0f s in all (baseline, mutants, final rebuild).\n" % (
        len(chosen), time.time() - t_start)
    print(table)
    if args.table:
        write_table(args.table, table)
    if masked:
        print("masked in every mode: " + ", ".join(masked))
        return 1
    print("every mutant was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
