#!/usr/bin/env python3
"""tests/crash/crash_consistency.py — kill training runs at chosen moments and fill their disk; every
time, the folder must either resume to exactly the files of an uninterrupted run or refuse with a
message that names what is missing (issue 13; the promises are in docs/reliability.md).

  python3 tests/crash/crash_consistency.py --faceforge build/faceforge --shim build/libff_faultshim.so

How: tests/crash/faultshim.c (LD_PRELOAD) counts the calls that put files into the run folder
(open for writing, write, fsync, rename). One uninterrupted run is recorded call by call. Fresh
runs are then killed (SIGKILL) at chosen calls: every call of each kind of checkpoint write (the
state file, the model file, best), writes torn in half, log rows, report files, calls during a
resume, and a seeded random sample of the rest. After each kill the folder is resumed (without the
shim) until the run completes; a folder without a checkpoint must be refused by --resume with a
message naming last.state.safetensors, and then accept a fresh run. The completed folder must hold
the reference's bytes: the checkpoints, best, and the logs (less their timing columns), and no
temporary file. The full-disk cases make writes fail with ENOSPC from a chosen byte on (for good,
or for a few calls): the run must stop with a non-zero status and a message naming the file and
"No space left on device", and then resume to the same bytes.
Stdlib only; any python3.
"""
import argparse
import csv
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

TIMING_COLUMNS = {"images_per_s", "seconds"}  # wall-clock columns: never the same twice


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faceforge", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--work", help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--random", type=int, default=8, help="random kill points besides the chosen ones")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trainer", choices=["landmarks", "embed", "both"], default="both")
    a = ap.parse_args()
    ff = os.path.abspath(a.faceforge)
    shim = os.path.abspath(a.shim)
    work = os.path.abspath(a.work) if a.work else tempfile.mkdtemp(prefix="ff_crash_")
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    failures = []
    try:
        data = os.path.join(work, "data")
        if not os.path.isdir(data):
            sh([ff, "synth", "--out", data, "--identities", "8", "--per-identity", "5", "--size", "64", "--seed", "11"])
        trainers = ["landmarks", "embed"] if a.trainer == "both" else [a.trainer]
        for t in trainers:
            failures += Campaign(ff, shim, work, data, t, a.random, a.seed).run()
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"== crash consistency: {len(failures)} failures ({time.time() - t0:.0f} s)")
    for f in failures:
        print("   FAILED:", f)
    sys.exit(1 if failures else 0)


def sh(cmd, env=None, check=True):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return p


class Campaign:
    def __init__(self, ff, shim, work, data, trainer, n_random, seed):
        self.ff, self.shim, self.work, self.data, self.trainer = ff, shim, work, data, trainer
        self.n_random, self.seed = n_random, seed
        self.count = 0

    def args(self, out, resume=False):
        common = ["--data", self.data, "--out", out, "--seed", "7", "--workers", "2", "--save-every", "3"]
        if self.trainer == "landmarks":
            cmd = [self.ff, "train-landmarks", *common, "--epochs", "3", "--batch", "8",
                   "--config", "stem=8,mid=16,channels=16,stacks=2,landmarks=5,input=64", "--lr", "5e-4"]
        else:
            cmd = [self.ff, "train-embed", *common, "--epochs", "3", "--batch", "8", "--config",
                   "width=0.0625,blocks=1:1:1:1,input=64,embedding=16", "--no-augment"]
        return cmd + (["--resume"] if resume else [])

    def logs(self):
        return ["log.csv", "val.csv"] if self.trainer == "landmarks" else ["log.csv", "epochs.csv"]

    def env(self, out, **faults):
        e = dict(os.environ)
        e["LD_PRELOAD"] = self.shim
        e["FF_FAULT_DIR"] = out
        for k, v in faults.items():
            e["FF_FAULT_" + k.upper()] = str(v)
        return e

    def run(self):
        t0 = time.time()
        ref = os.path.join(self.work, f"{self.trainer}_ref")
        shutil.rmtree(ref, ignore_errors=True)
        log = os.path.join(self.work, f"{self.trainer}_calls.txt")
        if os.path.exists(log):
            os.remove(log)
        os.makedirs(ref)
        sh(self.args(ref), env=self.env(ref, log=log))
        calls = []
        for line in open(log):
            n, what, path, nbytes = line.rstrip("\n").split(" ")
            calls.append((int(n), what, os.path.relpath(path, ref), int(nbytes)))
        self.reference = self.snapshot(ref)
        points = self.choose(calls)
        failures = []
        print(f"== {self.trainer}: {len(calls)} file calls in an uninterrupted run; {len(points)} kills, "
              f"then full disks")
        for n, half, label in points:
            failures += self.kill_case(n, half, label)
        total = sum(c[3] for c in calls if c[1] == "write")
        state_writes = [c for c in calls if c[1] == "write" and c[2].startswith("last.state.safetensors.tmp")]
        written, inside_state = 0, None
        for c in calls:  # a byte level that falls inside a write of the state file
            if c[1] == "write":
                if c in state_writes[1:2]:
                    inside_state = written + c[3] // 2
                written += c[3]
        levels = [("full disk at 30%", total * 3 // 10, -1), ("full disk at 70%", total * 7 // 10, -1),
                  ("full disk inside a state write", inside_state, -1),
                  ("transient full disk (3 writes) at 50%", total // 2, 3)]
        for label, level, k in levels:
            if level is not None:
                failures += self.enospc_case(label, level, k)
        print(f"   {self.trainer}: {self.count} cases, {len(failures)} failures, {time.time() - t0:.0f} s")
        return failures

    def choose(self, calls):
        """(call number, torn?, label): every call of one write of each kind of file, and more."""
        # Keep the calls of the second occurrence of each file's write sequence (open..rename).
        by_kind = {}
        for n, what, path, nbytes in calls:
            base = re.sub(r"\.tmp\.\d+$", "", path)
            by_kind.setdefault(base, []).append((n, what, nbytes))
        chosen = []
        for base, cs in sorted(by_kind.items()):
            if base.endswith(".safetensors"):
                seqs, cur = [], []
                for c in cs:
                    cur.append(c)
                    if c[1] == "rename":
                        seqs.append(cur)
                        cur = []
                seq = seqs[1] if len(seqs) > 1 else seqs[0]
                for n, what, nbytes in seq:
                    chosen.append((n, False, f"{base}: {what}"))
                    if what == "write" and nbytes >= 2:
                        chosen.append((n, True, f"{base}: torn write"))
            elif base.endswith(".csv"):
                rows = [c for c in cs if c[1] == "write"]
                if len(rows) > 2:
                    chosen.append((rows[len(rows) // 2][0], True, f"{base}: torn row"))
                    chosen.append((rows[-1][0], False, f"{base}: last row"))
            elif base.startswith("report/"):
                pass
        reports = [c for c in calls if c[2].startswith("report/") and c[1] == "rename"]
        if reports:
            chosen.append((reports[len(reports) // 2][0], False, f"{reports[len(reports) // 2][2]}: rename"))
        rng = random.Random(self.seed)
        taken = {c[0] for c in chosen}
        rest = [c[0] for c in calls if c[0] not in taken]
        for n in sorted(rng.sample(rest, min(self.n_random, len(rest)))):
            chosen.append((n, rng.random() < 0.5, "random"))
        return chosen

    def snapshot(self, d):
        snap = {}
        for name in ["last.safetensors", "last.state.safetensors", "best.safetensors"]:
            p = os.path.join(d, name)
            snap[name] = open(p, "rb").read() if os.path.exists(p) else None
        for name in self.logs():
            p = os.path.join(d, name)
            if not os.path.exists(p):
                snap[name] = None
                continue
            rows = list(csv.reader(io.StringIO(open(p).read())))
            keep = [i for i, c in enumerate(rows[0]) if c not in TIMING_COLUMNS] if rows else []
            snap[name] = [[r[i] for i in keep if i < len(r)] for r in rows]
        return snap

    def finish(self, out, label):
        """Resumes (or restarts) `out` until the run completes; returns failure strings."""
        for attempt in range(3):
            p = sh(self.args(out, resume=True), check=False)
            if p.returncode == 0:
                break
            last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
            if "holds no checkpoint" in last and "last.state.safetensors" in last:
                p = sh(self.args(out), check=False)  # nothing to resume: a fresh run is accepted
                if p.returncode == 0:
                    break
                last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
                return [f"{self.trainer}, {label}: a fresh run after the refused resume failed: {last}"]
            return [f"{self.trainer}, {label}: resume failed ({p.returncode}): {last}"]
        got = self.snapshot(out)
        bad = [k for k in self.reference if got[k] != self.reference[k]]
        tmp = [f for r, _, fs in os.walk(out) for f in fs if re.search(r"\.tmp\.\d+$", f)]
        out_ = []
        if bad:
            out_.append(f"{self.trainer}, {label}: differs from the uninterrupted run in {', '.join(bad)}")
        if tmp:
            out_.append(f"{self.trainer}, {label}: temporary files left: {', '.join(tmp)}")
        return out_

    def kill_case(self, n, half, label):
        self.count += 1
        out = os.path.join(self.work, f"{self.trainer}_kill{self.count}")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        p = sh(self.args(out), env=self.env(out, kill_at=n, half=int(half)), check=False)
        what = f"kill at call {n} ({label}{', torn' if half and 'torn' not in label else ''})"
        if p.returncode != -9:
            return [f"{self.trainer}, {what}: expected the process to be killed, got status {p.returncode}"]
        fails = []
        # A kill during the resume as well, at one of its first calls (the log restart): every third case.
        if self.count % 3 == 0 and os.path.exists(os.path.join(out, "last.state.safetensors")):
            k = 1 + self.count % 4
            p = sh(self.args(out, resume=True), env=self.env(out, kill_at=k, half=1), check=False)
            what += f", then during the resume at its call {k}"
            if p.returncode not in (-9, 0):
                fails.append(f"{self.trainer}, {what}: the interrupted resume failed ({p.returncode}): "
                             f"{p.stderr.strip().splitlines()[-1:]}")
        fails += self.finish(out, what)
        print(f"   {'ok  ' if not fails else 'FAIL'} {what}")
        shutil.rmtree(out, ignore_errors=True)
        return fails

    def enospc_case(self, label, level, k):
        self.count += 1
        out = os.path.join(self.work, f"{self.trainer}_full{self.count}")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        faults = {"enospc_after": level}
        if k >= 0:
            faults["enospc_calls"] = k
        p = sh(self.args(out), env=self.env(out, **faults), check=False)
        what = f"{label} (byte {level})"
        lines = p.stderr.strip().splitlines()
        last = lines[-1] if lines else ""
        fails = []
        if p.returncode == 0:
            fails.append(f"{self.trainer}, {what}: the run exited 0 although writes failed")
        elif "No space left on device" not in last or out not in last:
            fails.append(f"{self.trainer}, {what}: the error does not name the file and the cause: {last!r}")
        else:
            fails += self.finish(out, what)
        print(f"   {'ok  ' if not fails else 'FAIL'} {what}: {last[:150]}")
        shutil.rmtree(out, ignore_errors=True)
        return fails


if __name__ == "__main__":
    main()
