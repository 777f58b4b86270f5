"""The ``distcc`` compiler wrapper: host list, slot locks, backoff, remote and local compiles.

Imports ``common``; never ``daemon`` or ``pump``.
"""
