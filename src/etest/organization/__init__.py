"""Organizations: the UIC tree, settings and expiry."""
