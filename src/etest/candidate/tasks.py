"""Background work of the candidate package (registered by ``etest.tasks``)."""
