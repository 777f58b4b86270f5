"""``pump``: runs a build with the include server, then reports what ran where."""
