"""DWARF pieces objrewrite needs: form sizes, string tables, line headers, a DIE walker.

Everything here works on ``bytes`` of one section at a time, plus a ``Fixups`` mapping
(offset in the section -> relocated value) for ET_REL objects, whose cross-section offsets
live in relocation addends rather than in the data.
"""
