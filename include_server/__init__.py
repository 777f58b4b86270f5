"""The include server: statically computed, cached ``#include`` closures (pump mode)."""
