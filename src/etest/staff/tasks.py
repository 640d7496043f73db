"""Background work of the staff package (registered by ``etest.tasks``)."""
