"""Reference data: levels and plans."""
