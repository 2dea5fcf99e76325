#!/usr/bin/env python3
"""scripts/check_layers.py — fails when an #include points up the layers.

The table of which folder may include which is CMakeLists.txt's own: each
`ff_library(<folder> SEES <entries>)` (and `ff_sees(<target> <folder> SEES <entries>)` for the
command-line program) lists what that folder's sources may include besides their own folder:
whole folders (`engine`) or single headers (`engine/error.h`). The build compiles each folder
against exactly that view of the tree, so the check and the compiler read one table; this script
reports every upward include at once, with file:line, before anything is built, follows headers
into other folders (an engine header that includes kernels/ leaks them to every reader), and
catches what a view cannot: relative paths (`#include "../train/optim.h"`) and a cyclic table.

The bottom of the table is cudaemu/, the CPU emulation of CUDA (built with -DFF_CUDA_EMU=ON only):
it sees nothing, and kernels/ and engine/ see it (their .cu files include "cudaemu/cudaemu.h"
through the stand-in <cuda_runtime.h> in that mode). Angle-bracket includes of the stand-in
headers (<cuda_runtime.h>, <cublas_v2.h>, <cudnn.h>) are system headers here, as in the real build.

tests/, bench/ and tools/ may include anything. Every other folder holding C++ or CUDA sources
must have a rule. Reads every tracked source (git ls-files; the whole tree without git).
Standard library only. Exit status: 0 clean, 1 violations, 2 the table is missing or cyclic.

    python3 scripts/check_layers.py            # from anywhere in the repository
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXEMPT = {"tests", "bench", "tools"}
SOURCE_EXT = (".h", ".hpp", ".cuh", ".cpp", ".cc", ".cu")
INCLUDE = re.compile(r'^\s*#\s*include\s*["<]([^">]+)[">]')
RULE = re.compile(r"\bff_(?:library\(\s*|sees\(\s*[\w-]+\s+)(\w+)\s+SEES\s+([^)]*)\)")


def read_table():
    """{folder: set of entries it may include} from CMakeLists.txt, comments stripped."""
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        text = "\n".join(line.split("#", 1)[0] for line in f)
    table = {}
    for folder, entries in RULE.findall(text):
        table[folder] = set(entries.split())
    return table


def find_cycle(table):
    """Folders forming a cycle through whole-folder entries, or None. (A single-header entry adds
    no edge: check_file() follows its includes, which must stay within what its reader may see.)"""
    done, stack = set(), []

    def visit(node):
        if node in stack:
            return stack[stack.index(node):] + [node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted((set(table[node]) & set(table)) - {node}):
            cycle = visit(nxt)
            if cycle:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for node in sorted(table):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def tracked_sources():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True, capture_output=True).stdout
        files = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, subdirs, names in os.walk(ROOT):
            subdirs[:] = [s for s in subdirs if not s.startswith(".") and not s.startswith("build")]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    return sorted(p for p in files if p.endswith(SOURCE_EXT) and os.path.isfile(os.path.join(ROOT, p)))


def resolve(src, name):
    """The repository path an #include of `name` in `src` reaches, or None (a system header)."""
    for cand in (os.path.join(os.path.dirname(src), name), name):
        cand = os.path.normpath(cand)
        if not cand.startswith("..") and os.path.isfile(os.path.join(ROOT, cand)):
            return cand.replace(os.sep, "/")
    return None


_includes = {}


def includes_of(path):
    """[(line number, text as written, repository path reached)] of each project #include in path."""
    if path not in _includes:
        found = []
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                target = resolve(path, m.group(1)) if m else None
                if target:
                    found.append((lineno, m.group(1), target))
        _includes[path] = found
    return _includes[path]


def may_include(table, folder, target):
    top = target.split("/")[0]
    return top == folder or top in table[folder] or target in table[folder]


def rule_text(table, folder):
    return f"{folder}/ may include only its own files and: " + (" ".join(sorted(table[folder])) or "nothing else")


def check_file(table, folder, src, problems, reported):
    """Direct includes of src, then those of every header of another folder it reaches: a public
    header that includes something src may not see (an engine header exporting kernels/) leaks."""
    for lineno, written, target in includes_of(src):
        if not may_include(table, folder, target):
            problems.append(f'{src}:{lineno}: #include "{written}" reaches {target}; {rule_text(table, folder)}')
    todo = [t for _, _, t in includes_of(src) if may_include(table, folder, t)]
    seen = set(todo)
    while todo:
        header = todo.pop()
        for lineno, written, target in includes_of(header):
            if may_include(table, folder, target):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
            elif header.split("/")[0] != folder and (folder, header, lineno) not in reported:
                reported.add((folder, header, lineno))  # (a header of folder/ itself was checked directly)
                problems.append(f'{header}:{lineno}: #include "{written}" reaches {target}, which {folder}/ may not '
                                f"see, and {src} includes {header}; {rule_text(table, folder)}")


def main():
    table = read_table()
    if not table:
        print("check_layers: no ff_library(<folder> SEES ...) rules found in CMakeLists.txt")
        return 2
    cycle = find_cycle(table)
    if cycle:
        print("check_layers: the table in CMakeLists.txt has a cycle: " + " -> ".join(cycle))
        return 2
    problems, reported, files, unruled = [], set(), 0, set()
    for folder, entries in sorted(table.items()):
        for entry in sorted(entries):
            if not os.path.exists(os.path.join(ROOT, entry)):
                problems.append(f"CMakeLists.txt: {folder}/ sees {entry}, which does not exist")
    for src in tracked_sources():
        folder = src.split("/")[0]
        if "/" not in src or folder in EXEMPT:
            continue
        if folder not in table:
            if folder not in unruled:
                unruled.add(folder)
                problems.append(f"{src}: folder {folder}/ has no rule (add ff_library({folder} SEES ...) to "
                                "CMakeLists.txt)")
            continue
        files += 1
        check_file(table, folder, src, problems, reported)
    for p in sorted(problems):
        print(p)
    count = sum(len(v) for v in _includes.values())
    print(f"check_layers: {files} files, {count} project includes read, {len(problems)} violation"
          f"{'' if len(problems) == 1 else 's'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
