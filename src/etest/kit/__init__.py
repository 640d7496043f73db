"""Domain-free helpers: base schema, pagination, secrets, level names."""
