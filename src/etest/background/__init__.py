"""Long work started from the console (large reports, candidate and content imports) run by the
outbox worker, with progress a page can watch (docs/console.md, "Background tasks")."""
