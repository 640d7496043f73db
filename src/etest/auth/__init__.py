"""Who is calling: API keys and SSO bearer JWTs become an :class:`Actor`; roles gate actions and
the actor's subtree filters every query (see :mod:`etest.auth.scope`)."""
