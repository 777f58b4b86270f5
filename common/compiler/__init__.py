"""The gcc/clang command-line model shared by client, daemon and include server.

- ``job``: the typed, frozen result of classification.
- ``options``: the one sorted, declarative table of options (spelling, shape, meaning).
- ``classify``: ``classify(argv) -> CompileJob | RunLocally``, pure.
- ``rewrite``: the argv transformations built on a job (plain-mode strip, local cpp
  command, the daemon's substitution of its temp input and output).
"""
