"""Who may do what: API clients, their bearer tokens, and the authorization policy for issuing."""
