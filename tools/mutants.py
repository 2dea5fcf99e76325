#!/usr/bin/python3
"""tools/mutants.py — the emulated CUDA tests' teeth: apply deliberate kernel bugs one at a time and
show that the tests running on the CPU emulation of CUDA (cudaemu/, -DFF_CUDA_EMU=ON) fail on each.

    python3 tools/mutants.py [--build build-emu] [--asan-build build-emu-asan] [--only M1,M4]
                             [--table docs/mutants.md]

For every mutant below the script
  1. replaces one exact piece of text in one kernel file (it must occur exactly once),
  2. rebuilds ff_tests in the emulated build folder (and in the ASan+UBSan one when given),
  3. runs the mutant's tests under each thread schedule (CUDAEMU_SCHEDULE) and, when given, under
     ASan+UBSan, and records what caught it: FAIL (a test's assertion, with the tests' names),
     crash (a signal or a sanitizer report) or masked (every test passed),
  4. restores the file (also on Ctrl-C or an error) and goes on.
Before the first mutant it runs every mutant's tests on the unchanged source, which must pass: a
test that fails anyway catches nothing. At the end it rebuilds the unchanged source and writes the
table (markdown) to --table. Exit status 1 when a mutant is masked in every mode, or the baseline
fails. Each mutant costs one recompile of one kernel file and a link, then seconds of tests.
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


def mutant(mid, what, path, old, new, tests):
    MUTANTS.append(dict(id=mid, what=what, path=path, old=old, new=new, tests=tests))


SCHEDULES = ["forward", "reverse", "random:1"]


def run(cmd, env=None, timeout=None):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace")
        return p.returncode, p.stdout, time.time() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "timeout", out, time.time() - t0


def build(folder):
    rc, out, secs = run(["cmake", "--build", folder, "--target", "ff_tests"])
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


def run_tests(folder, tests, schedule):
    env = dict(os.environ, CUDAEMU_SCHEDULE=schedule, OMP_WAIT_POLICY="PASSIVE",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    rc, out, secs = run([os.path.join(folder, "ff_tests"), "--gtest_brief=1", "--gtest_filter=" + tests],
                        env=env, timeout=600)
    return classify(rc, out) + (secs,)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-emu")
    ap.add_argument("--asan-build", default=None)
    ap.add_argument("--only", default=None, help="comma-separated mutant ids")
    ap.add_argument("--table", default=None, help="write the markdown table here")
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m["id"] in args.only.split(",")]
    modes = [(args.build, s, "plain, " + s) for s in SCHEDULES]
    if args.asan_build:
        modes.append((args.asan_build, "random:1", "ASan+UBSan, random:1"))
    folders = sorted({f for f, _, _ in modes})

    for m in chosen:  # every mutant applies to the source as it is now
        text = open(os.path.join(ROOT, m["path"])).read()
        if text.count(m["old"]) != 1:
            sys.exit("%s: the text to change occurs %d times in %s (must be once)"
                     % (m["id"], text.count(m["old"]), m["path"]))

    print("== baseline: every mutant's tests on the unchanged source", flush=True)
    for f in folders:
        ok, _ = build(f)
        if not ok:
            sys.exit("the unchanged source does not build in " + f)
    all_tests = ":".join(sorted({t for m in chosen for t in m["tests"].split(":")}))
    for folder, schedule, label in modes:
        verdict, detail, secs = run_tests(folder, all_tests, schedule)
        print("   %-24s %s %s (%.0f s)" % (label, verdict, detail, secs), flush=True)
        if verdict != "pass":
            sys.exit("baseline fails: a test that fails on the unchanged source catches nothing")

    rows, masked = [], []
    for m in chosen:
        path = os.path.join(ROOT, m["path"])
        original = open(path).read()
        line = original[:original.index(m["old"])].count("\n") + 1
        print("== %s %s (%s:%d)" % (m["id"], m["what"], m["path"], line), flush=True)
        cells = []
        try:
            open(path, "w").write(original.replace(m["old"], m["new"]))
            for f in folders:
                ok, secs = build(f)
                if not ok:
                    sys.exit("%s does not compile: a mutant must be a bug, not a syntax error" % m["id"])
            for folder, schedule, label in modes:
                verdict, detail, secs = run_tests(folder, m["tests"], schedule)
                print("   %-24s %s %s (%.0f s)" % (label, verdict, detail, secs), flush=True)
                cells.append("masked" if verdict == "pass" else "**%s** %s" % (verdict, detail))
        finally:
            open(path, "w").write(original)
        if all(c == "masked" for c in cells):
            masked.append(m["id"])
        rows.append("| %s %s | `%s:%d` | `%s` → `%s` | %s |" % (
            m["id"], m["what"], m["path"], line, m["old"].strip().replace("|", "\\|"),
            m["new"].strip().replace("|", "\\|"), " | ".join(cells)))

    for f in folders:  # leave the build folders as the unchanged source
        build(f)
    header = ("| mutant | where | change | " + " | ".join(l for _, _, l in modes) + " |\n|" +
              "---|" * (3 + len(modes)) + "\n")
    table = header + "\n".join(rows) + "\n"
    print(table)
    if args.table:
        tmp = args.table + ".tmp"
        open(tmp, "w").write(table)
        os.replace(tmp, args.table)
    if masked:
        print("masked in every mode: " + ", ".join(masked))
        return 1
    print("every mutant was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
