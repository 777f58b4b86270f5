"""The command a pump-mode daemon runs: the client's command, re-rooted into the mirror.

``mirror_argv(job, root, cwd, dep_file, shipped)`` takes the classified job (the shared
command-line model: ``CompileJob.options`` says what every word means; nothing here
re-parses argv) and returns a ``MirrorCommand``:

- ``-ffile-prefix-map=ROOT=`` right after ``argv[0]``: *first*, so that the user's own maps
  (re-rooted, below) win for gcc (last match wins) and for clang (longest key wins);
  objects, ``__FILE__`` and ``.s`` files then name client paths;
- the absolute path argument of every path-taking option re-rooted (``ROOT + path``), in
  joined and separate forms: ``-I -iquote -isystem -idirafter -include -imacros -iprefix
  -iwithprefix -iwithprefixbefore``, framework dirs, ``-dumpdir``/``-dumpbase``, the OLD
  half of the user's ``-f*-prefix-map=OLD=NEW``; ``--sysroot``/``-isysroot`` only when the
  client shipped that directory (``shipped(client_path)``); an absolute source;
- the output (``-o``) re-rooted if absolute; a relative one stays relative, since the
  compiler runs in ``ROOT + cwd``.  So the object is written inside the root at the
  place that stands for the client's, and names derived from it (the ``.dwo`` file and
  its ``DW_AT_dwo_name``) are the client's after the prefix map;
- dependency output as distcc does (§5.1 item 7), through ``DepInfo``: the user's
  ``-MF`` is dropped for ``-MF dep_file``; ``-MT`` for each target unless the user set
  them (gcc's defaults differ between ``-MD`` and ``-Wp,-MD,f``); without any ``.d``
  request, ``-MMD -MF dep_file -MT <output>`` so a ``.d`` is always produced.

Under ``distccd --sandbox`` the compiler runs chrooted in the root (daemon/chroot.py):
``root`` is then ``""`` and ``prefix_map`` False, so paths stay the client's and only the
dependency output is changed.

Invariants: pure; the result never names a path outside ``root`` for the compiler to
write (outputs are re-rooted or relative to ``root + cwd``), and ``-B``/``-L`` and other
options that only read stay as given (as in distcc).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from common.compiler.classify import make_quote
from common.compiler.job import CompileJob, Meaning, ParsedOption

# Meanings whose argument is a path to re-root when absolute.
_PATH_MEANINGS = frozenset(
    {
        Meaning.INCLUDE_DIR,
        Meaning.QUOTE_DIR,
        Meaning.SYSTEM_DIR,
        Meaning.AFTER_DIR,
        Meaning.PREFIX,
        Meaning.WITH_PREFIX,
        Meaning.WITH_PREFIX_BEFORE,
        Meaning.INCLUDE_FILE,
        Meaning.IMACROS_FILE,
        Meaning.FRAMEWORK_DIR,
        Meaning.AUX_NAME,
        Meaning.OUTPUT,
    }
)
_MAP_SPELLINGS = frozenset(
    {
        "-ffile-prefix-map=",
        "-fdebug-prefix-map=",
        "-fmacro-prefix-map=",
        "-fprofile-prefix-map=",
        "-fcoverage-prefix-map=",
    }
)


@dataclass(frozen=True)
class MirrorCommand:
    argv: list[str]
    output: str  # client path of the object (absolute, normalised)
    dwo: str | None  # client path of the .dwo, if the compile writes one


def client_path(cwd: str, path: str) -> str:
    """``path`` (as the client wrote it) as an absolute, normalised client path."""
    return posixpath.normpath(posixpath.join(cwd, path))


def _with_value(po: ParsedOption, value: str) -> list[str]:
    """The words of ``po`` with its argument replaced."""
    if po.words == 2:
        return [po.spelled, value]
    old = po.value or ""
    return [po.spelled[: len(po.spelled) - len(old)] + value]


def mirror_argv(
    job: CompileJob,
    root: str,
    cwd: str,
    dep_file: str,
    shipped: Callable[[str], bool],
    prefix_map: bool = True,
) -> MirrorCommand:
    def reroot(path: str) -> str:
        return root + path if path.startswith("/") else path

    replace: dict[int, list[str]] = {}
    for po in job.options:
        meaning, value = po.spec.meaning, po.value
        if value is None:
            continue
        new: str | None = None
        if meaning in _PATH_MEANINGS:
            new = reroot(value)
        elif meaning == Meaning.SYSROOT:
            if value.startswith("/") and shipped(value):
                new = reroot(value)
        elif meaning == Meaning.PREFIX_MAP and po.spec.spelling in _MAP_SPELLINGS:
            old, sep, to = value.rpartition("=")
            if sep and old.startswith("/"):
                new = reroot(old) + "=" + to
        elif meaning == Meaning.DEP_FILE:
            replace[po.index] = []
            if po.words == 2:
                replace[po.index + 1] = []
            continue
        if new is not None and new != value:
            words = _with_value(po, new)
            replace[po.index] = words[:1]
            if po.words == 2:
                replace[po.index + 1] = words[1:]
    if job.source.startswith("/"):
        replace[job.source_index] = [reroot(job.source)]

    out = [job.argv[0], f"-ffile-prefix-map={root}="] if prefix_map else [job.argv[0]]
    for i, word in enumerate(job.argv[1:], 1):
        out.extend(replace.get(i, [word]))
    dep = job.dep
    if dep is None:
        out += ["-MMD", "-MF", dep_file, "-MT", make_quote(job.output)]
    elif not dep.append:
        out += ["-MF", dep_file]
        if not dep.user_targets:
            for target in dep.targets:
                out += ["-MT", target]
    dwo = client_path(cwd, job.dwo) if job.dwo is not None else None
    return MirrorCommand(out, client_path(cwd, job.output), dwo)
