"""The ELF backend: ET_REL rewritten at any length, linked files in place."""
