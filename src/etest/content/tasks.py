"""Background work of the content package (registered by ``etest.tasks``)."""
