"""``distccd``, the compile server: access control, protocol handling, running the compiler.

Imports ``common`` (and ``objrewrite`` later); never ``client`` or ``pump``.
"""
