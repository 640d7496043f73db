"""The item bank's life cycle on the service's own data: evidence before a placement test is
published (``evidence.py``), calibration of items from collected responses (``calibration*``).
Above ``attempt`` and ``content`` in the package layers (it reads both); ``content`` reaches it
only through the publish checks that ``etest.tasks`` registers."""
