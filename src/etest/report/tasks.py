"""Background work of the report package (registered by ``etest.tasks``)."""
