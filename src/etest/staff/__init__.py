"""Staff accounts of the console: passwords, sessions, invitations, second factor, OIDC."""
