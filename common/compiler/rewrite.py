"""argv transformations built on a classified job.  Pure functions; no file system.

- ``strip_local_args(argv)``: distcc 3.4's ``dcc_strip_local_args`` word for word (the
  golden ``StripArgs_Case`` table), on any argv; plus HEAD's stripping of
  ``-Xpreprocessor ARG``.
- ``plain_server_argv(job)``: what our client sends to a plain-mode (protocol 1/2) server:
  the job's normalised argv (with the implied ``-o``, as distcc sends it) stripped.
- ``local_cpp_argv(job, i_path)``: the client's local preprocessing command: ``-o OUT``
  removed, ``-c``/``-S`` turned into ``-E``, ``-o i_path`` appended, and, when the job
  writes a ``.d`` file, ``-MF``/``-MT`` added so that the ``.d`` file gets the path and
  target that ``gcc -c`` itself would write (distcc names both after the source instead).
  The env-var form (``DEPENDENCIES_OUTPUT``) needs nothing: cpp appends to the same file
  with the same default target, as long as it runs with the same environment.
- ``server_argv(argv, input_path, output_path)``: what a daemon runs for a protocol 1/2
  request: the source word becomes the received cpp output and the output word the
  daemon's temp object.  An explicit ``-x LANG`` that governs the source is turned into
  its cpp-output form (``-x c`` -> ``-x cpp-output``): distcc 3.4 leaves it, so gcc
  preprocesses the ``.i`` a second time; the ``.i`` extension alone only helps without
  ``-x``.

Hot path (client): no dataclasses/enum/typing/re imports.
"""

from __future__ import annotations

from common.compiler.classify import classify
from common.compiler.job import CompileJob, Meaning, RunLocally, preprocessed_form
from common.values import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# dcc_strip_local_args: removed with the following word.  -Xpreprocessor is stripped as
# distcc HEAD does: 3.4 sends it and strips its argument, so the server's -Xpreprocessor
# then swallows the next word (often the source).
_STRIP_WITH_NEXT = frozenset(
    (
        "-Xpreprocessor",
        "-D",
        "-I",
        "-U",
        "-L",
        "-l",
        "-MF",
        "-MT",
        "-MQ",
        "-include",
        "-imacros",
        "-iprefix",
        "-iwithprefix",
        "-isystem",
        "-iwithprefixbefore",
        "-idirafter",
    )
)
# ...removed when the word starts with one of these.
_STRIP_PREFIXES = (
    "-Wp,",
    "-Wl,",
    "-D",
    "-U",
    "-I",
    "-l",
    "-L",
    "-MF",
    "-MT",
    "-MQ",
    "-isystem",
    "-stdlib",
)
# ...removed when equal to one of these.
_STRIP_EXACT = frozenset(("-undef", "-nostdinc", "-nostdinc++", "-MD", "-MMD", "-MG", "-MP"))


def strip_local_args(argv: Sequence[str]) -> list[str]:
    """distcc 3.4's ``dcc_strip_local_args``: drop preprocessor and linker options."""
    out: list[str] = []
    i = 0
    n = len(argv)
    while i < n:
        w = argv[i]
        if w in _STRIP_WITH_NEXT:
            i += 2 if i + 1 < n else 1
            continue
        if w.startswith(_STRIP_PREFIXES) or w in _STRIP_EXACT:
            i += 1
            continue
        out.append(w)
        i += 1
    return out


def plain_server_argv(job: CompileJob) -> list[str]:
    """The argv our client sends to a plain-mode (protocol 1/2) server."""
    return strip_local_args(job.argv)


def local_cpp_argv(job: CompileJob, i_path: str) -> list[str]:
    """The command that preprocesses ``job`` locally into ``i_path``."""
    skip: set[int] = set()
    to_e: set[int] = set()
    has_mf = False
    for po in job.options:
        meaning = po.spec.meaning
        if meaning == Meaning.OUTPUT:
            skip.update(range(po.index, po.index + po.words))
        elif meaning == Meaning.COMPILE_ONLY or meaning == Meaning.ASSEMBLY_ONLY:
            to_e.add(po.index)
        elif meaning == Meaning.DEP_FILE:
            has_mf = True
    out: list[str] = []
    for i, w in enumerate(job.argv):
        if i in skip:
            continue
        out.append("-E" if i in to_e else w)
    dep = job.dep
    if dep is not None and not dep.append:
        if not has_mf:
            out += ("-MF", dep.path)
        if not dep.user_targets:
            for target in dep.targets:
                out += ("-MT", target)
    out += ("-o", i_path)
    return out


def server_argv(argv: Sequence[str], input_path: str, output_path: str) -> list[str] | RunLocally:
    """The command a daemon runs for a protocol 1/2 request (cpp already done by the
    client): a ``RunLocally`` if the command is not distributable (the daemon refuses)."""
    job = classify(argv)
    if isinstance(job, RunLocally):
        return job
    out = list(job.argv)
    out[job.source_index] = input_path
    output_opt = None
    language_opt = None
    for po in job.options:
        meaning = po.spec.meaning
        if meaning == Meaning.OUTPUT:
            output_opt = po
        elif meaning == Meaning.LANGUAGE and po.index < job.source_index:
            language_opt = po
    if output_opt is not None and output_opt.words == 1:
        prefix = output_opt.spelled[: len(output_opt.spelled) - len(output_opt.value or "")]
        out[job.output_index] = prefix + output_path
    else:
        out[job.output_index] = output_path
    if job.explicit_language and language_opt is not None:
        form = preprocessed_form(job.language)
        if language_opt.words == 2:
            out[language_opt.index + 1] = form
        else:
            spelled = language_opt.spelled
            out[language_opt.index] = spelled[: len(spelled) - len(language_opt.value or "")] + form
    return out
