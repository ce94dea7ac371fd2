"""Small shared helpers: atomic output, progress display, paths."""
