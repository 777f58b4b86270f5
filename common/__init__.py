"""Code shared by the client, the daemon, the include server and pump.

Lower layer: nothing here imports ``client``, ``daemon``, ``include_server`` or ``pump``.

- ``common.exitcodes``: distcc's exit codes 100-120 as an enum.
- ``common.protocol``: distcc's wire framing (protocols 1, 2, 3), bounded readers.
- ``common.compress``: raw LZO1X as distcc sends it.
- ``common.compiler``: the gcc/clang command-line model (option table + ``classify``).
"""
