#!/usr/bin/env python3
"""Generate objrewrite's test objects.  Usage: make_fixtures.py OUTDIR [--jobs N]

Every object is compiled twice from identical source trees that differ only in their
location: the *short* tree ``OUTDIR/s/proj`` and the *long* tree
``OUTDIR/<long name>/proj``.  Rewriting the short-tree object with ``SHORT=LONG`` must
give the long-tree object (and the reverse), which is the oracle the tests use.

File names (enforced by tests/objrewrite/test_fixtures.py):
    obj/<case>@<tree>.o      tree is "short" or "long"; <case> is
    <cc>-dwarf<v>-<g|g3>-<rel|abs>[-gz]    the matrix: cc gcc|clang, v 2|4|5
    <cc>-<extra>                            extras: asm, split/split4 (DWARF 5/4, + .dwo),
                                            types4, types5,
                                            ldr, macinfo, dwarf64, zstd, exe (ET_EXEC),
                                            so (ET_DYN), cmdline (clang
                                            -grecord-command-line), zlibgnu
                                            (legacy .zdebug_* sections)
    clang-<arch>                            cross targets: i386, arm, mips, ppc64, ppc, s390x,
                                            aarch64
    macho-<arch>-dwarf<v>                   Mach-O objects (x86_64, arm64; v4, v5)
The generator is deterministic; it needs gcc, clang, ld and objcopy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LONG = "a-much-longer-directory-name-standing-in-for-the-client-tree"
TREES = {"short": "s", "long": LONG}

SOURCES = {
    "src/a.c": (
        '#include "hdr.h"\n'
        "struct pt { int x, y; };\n"
        "int add(int a, int b) { return a + b + HDR_K; }\n"
        "int use(struct pt *p) { return p->x + twice(add(p->y, 1)); }\n"
    ),
    "src/b.c": ('#include "hdr.h"\nint sub(int a, int b) { return a - b + twice(HDR_K); }\n'),
    "src/f.c": ('#include "hdr.h"\nconst char *where(void) { return HDR_FILE; }\n'),
    "src/main.c": "int add(int, int);\nint main(void) { return add(1, 2) == 6 ? 0 : 1; }\n",
    "src/s.S": ("        .text\n        .globl asm_fn\nasm_fn:\n        nop\n        ret\n"),
    "src/t.cc": (
        '#include "hdr.h"\n'
        "struct Shape { virtual ~Shape() {} virtual int area() const { return HDR_K; } };\n"
        "struct Sq : Shape { int s = 2; int area() const override { return s * s; } };\n"
        "int total() { Sq q; Shape &r = q; return r.area() + twice(1); }\n"
    ),
    "include/hdr.h": (
        "#define HDR_K 3\n"
        "#define HDR_FILE __FILE__\n"
        "static inline int twice(int v) { return 2 * v; }\n"
    ),
}

MACHO_SRC = "int mfn(int a) { return a * 3; }\nint _start(void) { return mfn(2); }\n"

CROSS = {
    "i386": "i386-linux-gnu",
    "arm": "arm-linux-gnueabi",
    "mips": "mips-linux-gnu",
    "ppc64": "powerpc64-linux-gnu",
    "ppc": "powerpc-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
}


def matrix() -> list[str]:
    out = []
    for cc in ("gcc", "clang"):
        for v in (2, 4, 5):
            for g in ("g", "g3"):
                for inp in ("rel", "abs"):
                    for gz in ("", "-gz"):
                        out.append(f"{cc}-dwarf{v}-{g}-{inp}{gz}")
    return out


EXTRAS = (
    [
        "gcc-asm",
        "clang-asm",
        "gcc-split",
        "clang-split",
        "gcc-types4",
        "gcc-types5",
        "clang-types4",
        "clang-types5",
        "gcc-ldr",
        "clang-ldr",
        "gcc-macinfo",
        "gcc-dwarf64",
        "gcc-zstd",
        "gcc-exe",
        "gcc-so",
        "gcc-filemacro",
        "clang-cmdline",
        "gcc-zlibgnu",
        "gcc-split4",
        "clang-split4",
    ]
    + [f"clang-{a}" for a in CROSS]
    + [f"macho-{a}-dwarf{v}" for a in ("x86_64", "arm64") for v in (4, 5)]
)


def all_cases() -> list[str]:
    return matrix() + EXTRAS


def write_trees(out: Path) -> dict[str, Path]:
    trees = {}
    for tree, name in TREES.items():
        root = out / name / "proj"
        for rel, text in SOURCES.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (root / "src" / "m.c").write_text(MACHO_SRC)
        (root / "out").mkdir(exist_ok=True)
        trees[tree] = root
    return trees


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (in {cwd}) failed:\n{proc.stderr}")


def build_case(case: str, tree: str, root: Path, obj: Path) -> list[Path]:
    """Build one case in one tree; returns the files written."""
    src, inc = root / "src", root / "include"
    dest = obj / f"{case}@{tree}.o"
    base = ["-I", str(inc), "-O1", "-o", str(dest)]
    parts = case.split("-")
    cc = parts[0]
    if cc == "macho":
        arch, v = parts[1], parts[2]
        _run(
            [
                "clang",
                "-target",
                f"{arch}-apple-macos11",
                f"-g{v.replace('dwarf', 'dwarf-')}",
                "-c",
                "m.c",
                "-o",
                str(dest),
            ],
            src,
        )
        return [dest]
    if len(parts) >= 4 and parts[1].startswith("dwarf"):
        v = parts[1][5:]
        flags = [f"-gdwarf-{v}"]
        if parts[2] == "g3":
            flags += ["-g3"] + (["-fdebug-macro"] if cc == "clang" else [])
        inp = "a.c" if parts[3] == "rel" else str(src / "a.c")
        if case.endswith("-gz"):
            flags.append("-gz")
        _run([cc, *flags, "-c", inp, *base], src)
        return [dest]
    extra = parts[1]
    if extra in CROSS:
        _run(["clang", "-target", CROSS[extra], "-g", "-c", "a.c", *base], src)
        return [dest]
    if extra == "asm":
        _run([cc, "-g", "-c", "s.S", "-o", str(dest)], src)
        return [dest]
    if extra in ("split", "split4"):
        # The .dwo is named after the output, so the output lives in the tree.
        o = root / "out" / f"{case}.o"
        version = ["-gdwarf-4"] if extra == "split4" else []
        _run([cc, "-g", *version, "-gsplit-dwarf", "-c", "a.c", "-I", str(inc), "-o", str(o)], src)
        shutil.copy(o, dest)
        shutil.copy(o.with_suffix(".dwo"), obj / f"{case}@{tree}.dwo")
        return [dest, obj / f"{case}@{tree}.dwo"]
    if extra in ("types4", "types5"):
        _run(
            [cc, "-x", "c++", f"-gdwarf-{extra[-1]}", "-fdebug-types-section", "-c", "t.cc", *base],
            src,
        )
        return [dest]
    if extra == "ldr":
        a, b = obj / f"{case}@{tree}.a.tmp", obj / f"{case}@{tree}.b.tmp"
        _run([cc, "-g", "-c", "a.c", "-I", str(inc), "-o", str(a)], src)
        _run([cc, "-g", "-c", "b.c", "-I", str(inc), "-o", str(b)], src)
        _run(["ld", "-r", str(a), str(b), "-o", str(dest)], src)
        a.unlink()
        b.unlink()
        return [dest]
    if extra == "macinfo":
        _run([cc, "-gdwarf-4", "-gstrict-dwarf", "-g3", "-c", "a.c", *base], src)
        return [dest]
    if extra == "dwarf64":
        _run([cc, "-g", "-gdwarf64", "-c", "a.c", *base], src)
        return [dest]
    if extra == "zstd":
        tmp = obj / f"{case}@{tree}.tmp"
        _run([cc, "-g", "-c", "a.c", "-I", str(inc), "-o", str(tmp)], src)
        _run(["objcopy", "--compress-debug-sections=zstd", str(tmp), str(dest)], src)
        tmp.unlink()
        return [dest]
    if extra == "exe":
        _run([cc, "-g", "-gdwarf-4", "-O1", "a.c", "main.c", "-I", str(inc), "-o", str(dest)], src)
        return [dest]
    if extra == "zlibgnu":
        _run([cc, "-g", "-gz=zlib-gnu", "-c", "a.c", *base], src)
        return [dest]
    if extra == "cmdline":
        _run([cc, "-g", "-grecord-command-line", "-c", "a.c", *base], src)
        return [dest]
    if extra == "so":
        _run([cc, "-g", "-shared", "-fPIC", "-O1", "a.c", "-I", str(inc), "-o", str(dest)], src)
        return [dest]
    if extra == "filemacro":
        _run([cc, "-g", "-c", str(src / "f.c"), *base], src)
        return [dest]
    raise ValueError(f"unknown case {case}")


def build_all(out: Path, cases: list[str] | None = None, jobs: int = 2) -> dict[str, Path]:
    """Build ``cases`` (default: all) in both trees; returns {"case@tree": path}."""
    trees = write_trees(out)
    obj = out / "obj"
    obj.mkdir(exist_ok=True)
    todo = [(c, t) for c in (cases or all_cases()) for t in TREES]
    with ThreadPoolExecutor(jobs) as pool:
        files = list(pool.map(lambda ct: build_case(ct[0], ct[1], trees[ct[1]], obj), todo))
    result = {}
    for written in files:
        for f in written:
            result[f.name] = f
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = p.parse_args()
    built = build_all(args.outdir.resolve(), jobs=args.jobs)
    print(f"{len(built)} files in {args.outdir / 'obj'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
