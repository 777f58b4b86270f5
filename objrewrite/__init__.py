"""Rewrite path prefixes in object files' debug information (ELF, Mach-O)."""
