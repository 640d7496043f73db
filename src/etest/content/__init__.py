"""Content: items, can-do statements, review lessons, media, and assessments built from flows."""
