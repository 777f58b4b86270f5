"""The host list: distcc's ``DISTCC_HOSTS`` grammar parsed into a ``HostList`` value.

API (pure; no name resolution, no file system except through the reader passed in):

- ``parse_hosts(text, source, ncpus, seed=0) -> HostList``: parse one host list string.
  ``source`` names it in messages (``"$DISTCC_HOSTS"`` or a file path); ``ncpus`` is the
  default slot count of a bare ``localhost``; ``seed`` drives ``--randomize`` (the CLI
  passes its pid, as distcc does).  Raises ``HostSpecError`` (exit 106) on any error,
  including a list with no hosts in it ("... contained no hosts; can't distribute work").
- ``find_host_list(env, read_file, sysconfdir="/etc") -> (text, source) | None``: where the
  list comes from (distcc-internals §2.1): ``$DISTCC_HOSTS``, else ``$DISTCC_DIR/hosts``
  (``$HOME/.distcc/hosts`` when DISTCC_DIR is unset), else ``<sysconfdir>/distcc/hosts``.
  ``read_file(path)`` returns the text or None when the file is missing or unreadable.
- ``load_host_list(env, read_file, ncpus, seed=0) -> HostList``: both of the above.  No
  list anywhere is not an error: an empty ``HostList`` whose ``warnings`` hold distcc's
  "no hostlist is set; can't distribute work".
- ``local_host(limit)``: the ``localhost`` entry used for the local slot pools.

What the caller does with a ``HostSpecError``: ``distcc --show-hosts`` exits 106 (h_hosts
does, in distcc's tests); a compile
prints the message and compiles locally (distcc turns every host-list failure into "no
hosts", ``EXIT_NO_HOSTS``, then runs the compiler here).

Grammar (§2.2; whitespace separates entries, ``#`` starts a comment to the end of the line
and also ends the entry it touches)::

    localhost[/LIMIT]                              run here, under a local slot lock
    HOST[:PORT][/LIMIT][,OPT...]                   TCP (also HOST[/LIMIT][:PORT][,OPT...])
    [IPV6]:PORT...                                 TCP, IPv6 literal in brackets
    [USER]@HOST[/LIMIT][:COMMAND][,OPT...]         SSH (an '@' before any ',' means SSH)
    --randomize  --localslots=N  --localslots_cpp=N   keywords (``/N`` works as ``=N``)
    OPT = lzo | cpp | down | auth | auth=NAME

Invariants of a parsed ``Host``:

- ``protocol`` follows from the options: 1 plain, 2 with ``lzo``, 3 with ``cpp,lzo`` (in
  either order); ``cpp`` without ``lzo`` is an error with distcc's message.
- ``limit`` >= 1; TCP/SSH default 4; ``localhost`` defaults to ``ncpus`` (distcc uses 2:
  users asked for the CPU count, and the slot files are the same either way).
- ``port`` is 3632 by default for TCP, 0 for local and SSH entries (unused there).
- ``spec`` is the entry verbatim, as ``--show-hosts`` prints it.

Deliberate differences from distcc 3.4's scanner (all stricter but the last two):
distcc ignores junk after a parsed entry (``host/4xyz``, ``host,lzofoo``), lets a host name
run past a ``#`` (``@angry#x`` names host ``angry#x``), accepts ``host:`` as port 0, a
negative ``/-3`` limit, takes any entry starting ``--randomize`` as that keyword, and turns
``--localslots=0`` or an unknown ``--word`` into a TCP host of that name.  All of these are
errors (106) here.  distcc takes any ``@`` in an entry to mean SSH; we look only before the
first ``,``, so that ``,auth=NAME@REALM`` works on a TCP host.  A ``localhost/N`` entry, though,
ignores what follows the number as distcc does (``localhost/2,cpp,lzo`` is common in real
host files).  ``,zstd`` (post-3.4) is unknown, as in 3.4.

Room for our native protocol: options are looked up in ``_OPTION_NAMES``; a future option
(say ``,native``) adds a name there and a protocol number in ``_protocol``; nothing else in
the grammar needs to change, and stock-distcc syntax keeps its meaning.
"""

from __future__ import annotations

from common.exitcodes import DistccError, ExitCode
from common.values import TYPE_CHECKING, Value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

DEFAULT_PORT = 3632
DEFAULT_REMOTE_LIMIT = 4
DEFAULT_LOCAL_SLOTS = 4  # --localslots (dcc_hostdef_local)
DEFAULT_LOCAL_SLOTS_CPP = 8  # --localslots_cpp (dcc_hostdef_local_cpp)

NO_HOSTLIST_WARNING = "no hostlist is set; can't distribute work"

# Characters: C isspace() skips between entries; an entry ends at these (strcspn set).
_SPACE = " \t\n\v\f\r"
_ENTRY_END = " #\t\n\f\r"


class Mode:
    """How a host is reached (string constants; the lock file names use them)."""

    LOCAL = "localhost"
    TCP = "tcp"
    SSH = "ssh"


class HostSpecError(DistccError):
    """A host list that cannot be parsed (exit 106, ``EXIT_BAD_HOSTSPEC``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.BAD_HOSTSPEC, message)


class Host(Value):
    """One entry of the host list."""

    __slots__ = (
        "mode",
        "hostname",
        "port",
        "limit",
        "protocol",
        "user",
        "ssh_command",
        "is_up",
        "auth",
        "auth_name",
        "spec",
    )
    mode: str  # a Mode constant
    hostname: str  # "localhost" for Mode.LOCAL; an IPv6 literal without its brackets
    port: int  # TCP port (3632 default); 0 for local and SSH
    limit: int  # number of slots, >= 1
    protocol: int  # 1, 2 (lzo), 3 (cpp,lzo) or NATIVE (4: ,native, our daemon)
    user: str | None  # SSH user, None if not given
    ssh_command: str | None  # SSH ``:COMMAND`` (replaces "distccd"), None if not given
    is_up: bool  # False with ``,down``: listed but never locked
    auth: bool  # ``,auth``: GSS-API
    auth_name: str | None  # ``,auth=NAME``
    spec: str  # the entry verbatim

    def __init__(
        self,
        mode: str,
        hostname: str,
        *,
        port: int = 0,
        limit: int = DEFAULT_REMOTE_LIMIT,
        protocol: int = 1,
        user: str | None = None,
        ssh_command: str | None = None,
        is_up: bool = True,
        auth: bool = False,
        auth_name: str | None = None,
        spec: str = "",
    ) -> None:
        self._init(
            mode=mode,
            hostname=hostname,
            port=port,
            limit=limit,
            protocol=protocol,
            user=user,
            ssh_command=ssh_command,
            is_up=is_up,
            auth=auth,
            auth_name=auth_name,
            spec=spec or hostname,
        )

    @property
    def compressed(self) -> bool:
        """LZO on bulk data (protocols 2 and 3)."""
        return self.protocol >= 2

    @property
    def cpp_on_server(self) -> bool:
        """Pump mode: the server preprocesses (protocol 3, or our native protocol)."""
        return self.protocol in (3, NATIVE)

    @property
    def is_local(self) -> bool:
        return self.mode == Mode.LOCAL


class HostList(Value):
    """A parsed host list, in the order jobs should try the hosts."""

    __slots__ = ("hosts", "randomize", "local_slots", "local_slots_cpp", "source", "warnings")
    hosts: tuple[Host, ...]
    randomize: bool  # --randomize was given (``hosts`` is already shuffled)
    local_slots: int  # --localslots: pool for jobs that must run here (link, fallback)
    local_slots_cpp: int  # --localslots_cpp: pool for local preprocessing / include scans
    source: str  # "$DISTCC_HOSTS", a file path, or "" when no list was found
    warnings: tuple[str, ...]  # messages for the user (e.g. NO_HOSTLIST_WARNING)

    def __init__(
        self,
        hosts: tuple[Host, ...],
        *,
        randomize: bool = False,
        local_slots: int = DEFAULT_LOCAL_SLOTS,
        local_slots_cpp: int = DEFAULT_LOCAL_SLOTS_CPP,
        source: str = "",
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._init(
            hosts=hosts,
            randomize=randomize,
            local_slots=local_slots,
            local_slots_cpp=local_slots_cpp,
            source=source,
            warnings=warnings,
        )

    @property
    def total_slots(self) -> int:
        """What ``distcc -j`` prints: the sum of the hosts' limits."""
        return sum(h.limit for h in self.hosts)


def local_host(limit: int) -> Host:
    """The ``localhost`` entry with ``limit`` slots (for the local pools)."""
    return Host(Mode.LOCAL, "localhost", limit=limit, spec="localhost")


# --------------------------------------------------------------------------- parsing


def _positive_int(text: str, what: str, entry: str) -> int:
    if not text.isdigit() or not text.isascii() or int(text) == 0:
        raise HostSpecError(f'bad {what} "{text}" in host specification "{entry}"')
    return int(text)


def _leading_digits(text: str) -> str:
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return text[:end]


def _split_at(text: str, stops: str) -> tuple[str, str]:
    """``text`` cut before the first character in ``stops`` (strcspn)."""
    for i, ch in enumerate(text):
        if ch in stops:
            return text[:i], text[i:]
    return text, ""


_OPTION_NAMES = ("lzo", "cpp", "down", "auth", "native")
# Host.protocol for ``,native`` (our daemon; docs/protocol.md).  Not a distcc version.
NATIVE = 4


def _protocol(lzo: bool, cpp: bool, entry: str, native: bool = False) -> int:
    if native:
        if lzo or cpp:
            raise HostSpecError(
                f"',native' is a protocol of its own: drop ',lzo'/',cpp' in \"{entry}\""
            )
        return NATIVE
    if cpp and not lzo:
        raise HostSpecError(
            f"pump mode (',cpp') requires compression (',lzo'): invalid host options in \"{entry}\""
        )
    if cpp:
        return 3
    return 2 if lzo else 1


def _parse_options(rest: str, entry: str) -> tuple[int, bool, bool, str | None]:
    """``,opt,opt...`` (what follows the address) -> (protocol, is_up, auth, auth_name)."""
    if rest and rest[0] != ",":
        raise HostSpecError(f'unexpected "{rest}" in host specification "{entry}"')
    lzo = cpp = auth = native = False
    auth_name: str | None = None
    is_up = True
    for option in rest.split(",")[1:]:
        name, eq, value = option.partition("=")
        if name == "auth":
            auth = True
            if eq:
                if not value:
                    raise HostSpecError(f'empty ",auth=" name in host specification "{entry}"')
                auth_name = value
            continue
        if eq or name not in _OPTION_NAMES:
            raise HostSpecError(f"unrecognized option in host specification: {entry}")
        if name == "lzo":
            lzo = True
        elif name == "cpp":
            cpp = True
        elif name == "native":
            native = True
        else:
            is_up = False
    return _protocol(lzo, cpp, entry, native), is_up, auth, auth_name


def _parse_limit(rest: str, entry: str) -> tuple[int | None, str]:
    """An optional ``/LIMIT`` at the start of ``rest``."""
    if not rest.startswith("/"):
        return None, rest
    digits = _leading_digits(rest[1:])
    return _positive_int(digits or rest[1:2], "multiplier", entry), rest[1 + len(digits) :]


def _parse_localhost(entry: str, ncpus: int) -> Host:
    limit = ncpus
    if len(entry) > len("localhost"):
        # distcc: atoi() of what follows the '/', the rest of the entry is ignored.
        digits = _leading_digits(entry[len("localhost/") :])
        limit = _positive_int(digits or entry[len("localhost/") :], "multiplier", entry)
    return Host(Mode.LOCAL, "localhost", limit=limit, spec=entry)


def _parse_ssh(entry: str) -> Host:
    user, rest = entry.split("@", 1)
    hostname, rest = _split_at(rest, "/:,")
    if not hostname:
        raise HostSpecError(f'hostname is required in SSH host specification "{entry}"')
    limit, rest = _parse_limit(rest, entry)
    command: str | None = None
    if rest.startswith(":"):
        command, rest = _split_at(rest[1:], ",")
    protocol, is_up, auth, auth_name = _parse_options(rest, entry)
    return Host(
        Mode.SSH,
        hostname,
        limit=limit or DEFAULT_REMOTE_LIMIT,
        protocol=protocol,
        user=user or None,
        ssh_command=command or None,
        is_up=is_up,
        auth=auth,
        auth_name=auth_name,
        spec=entry,
    )


def _parse_tcp(entry: str) -> Host:
    if entry.startswith("["):
        hostname, rest = _split_at(entry[1:], "/],")
        if not rest.startswith("]"):
            raise HostSpecError(f"IPv6 Hostname requires closing ']' in \"{entry}\"")
        rest = rest[1:]
    else:
        hostname, rest = _split_at(entry, "/:,")
    if not hostname:
        raise HostSpecError(f'hostname is required in tcp host specification "{entry}"')
    limit, rest = _parse_limit(rest, entry)
    port = DEFAULT_PORT
    if rest.startswith(":"):
        digits = _leading_digits(rest[1:])
        after = rest[1 + len(digits) :]
        if not digits or (after and after[0] not in "/,") or not 0 < int(digits) < 65536:
            raise HostSpecError(f'invalid tcp port specification in "{entry}"')
        port = int(digits)
        rest = after
    if limit is None:
        limit, rest = _parse_limit(rest, entry)
    protocol, is_up, auth, auth_name = _parse_options(rest, entry)
    return Host(
        Mode.TCP,
        hostname,
        port=port,
        limit=limit or DEFAULT_REMOTE_LIMIT,
        protocol=protocol,
        is_up=is_up,
        auth=auth,
        auth_name=auth_name,
        spec=entry,
    )


def _keyword_value(entry: str, keyword: str) -> int:
    rest = entry[len(keyword) :]
    if not rest or rest[0] not in "/=":
        raise HostSpecError(f'"{keyword}" needs a value ("{keyword}=N"), got "{entry}"')
    return _positive_int(rest[1:], "multiplier", entry)


def _entries(text: str) -> list[str]:
    """Split a host list into entries, dropping whitespace and ``#`` comments."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            while i < n and text[i] not in "\n\r":
                i += 1
        elif ch in _SPACE:
            i += 1
        else:
            start = i
            while i < n and text[i] not in _ENTRY_END:
                i += 1
            out.append(text[start:i])
    return out


def _shuffled(hosts: list[Host], seed: int) -> list[Host]:
    """distcc's --randomize: sort the hosts by one pseudo-random number each, seeded."""
    state = seed & 0x7FFFFFFF
    keyed = []
    for index, host in enumerate(hosts):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        keyed.append((state, index, host))
    keyed.sort()
    return [host for _, _, host in keyed]


def parse_hosts(text: str, source: str, ncpus: int, seed: int = 0) -> HostList:
    """Parse a host list (see the module docstring for the grammar)."""
    hosts: list[Host] = []
    randomize = False
    local_slots = DEFAULT_LOCAL_SLOTS
    local_slots_cpp = DEFAULT_LOCAL_SLOTS_CPP
    for entry in _entries(text):
        if entry.startswith("--"):
            if entry == "--randomize":
                randomize = True
            elif entry.startswith("--localslots_cpp"):
                local_slots_cpp = _keyword_value(entry, "--localslots_cpp")
            elif entry.startswith("--localslots"):
                local_slots = _keyword_value(entry, "--localslots")
            else:
                raise HostSpecError(f'unknown keyword "{entry}" in host list {source}')
        elif entry == "localhost" or entry.startswith("localhost/"):
            hosts.append(_parse_localhost(entry, max(1, ncpus)))
        elif "@" in entry.partition(",")[0]:
            hosts.append(_parse_ssh(entry))
        else:
            hosts.append(_parse_tcp(entry))
    if not hosts:
        raise HostSpecError(f"{source} contained no hosts; can't distribute work")
    if randomize:
        hosts = _shuffled(hosts, seed)
    return HostList(
        tuple(hosts),
        randomize=randomize,
        local_slots=local_slots,
        local_slots_cpp=local_slots_cpp,
        source=source,
    )


# --------------------------------------------------------------------------- sources


def distcc_dir(env: Mapping[str, str]) -> str | None:
    """``$DISTCC_DIR``, else ``$HOME/.distcc``; None if neither can be known."""
    top = env.get("DISTCC_DIR")
    if top is not None:
        return top
    home = env.get("HOME")
    return None if home is None else home + "/.distcc"


def find_host_list(
    env: Mapping[str, str],
    read_file: Callable[[str], str | None],
    sysconfdir: str = "/etc",
) -> tuple[str, str] | None:
    """The host list text and its source name, in distcc's order; None if there is none."""
    text = env.get("DISTCC_HOSTS")
    if text is not None:
        return text, "$DISTCC_HOSTS"
    top = distcc_dir(env)
    candidates = [] if top is None else [top + "/hosts"]
    candidates.append(sysconfdir + "/distcc/hosts")
    for path in candidates:
        text = read_file(path)
        if text is not None:
            return text, path
    return None


def load_host_list(
    env: Mapping[str, str],
    read_file: Callable[[str], str | None],
    ncpus: int,
    seed: int = 0,
    sysconfdir: str = "/etc",
) -> HostList:
    """Find and parse the host list; an empty list with a warning if none is set."""
    found = find_host_list(env, read_file, sysconfdir)
    if found is None:
        return HostList((), warnings=(NO_HOSTLIST_WARNING,))
    text, source = found
    return parse_hosts(text, source, ncpus, seed)


def read_text_file(path: str) -> str | None:
    """A ``read_file`` for ``find_host_list``: the file's text, None if unreadable."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None
