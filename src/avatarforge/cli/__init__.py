"""The ``avatarforge`` command line: a thin layer over the library."""
