"""Who may do what: API tokens, web sessions, sign-in, passwords and their throttle, roles."""
