"""HTTP plumbing the blueprints share: HTML or JSON (negotiation, pages), errors,
deny-by-default guards, security headers, sessions, loaders that 404 themselves,
the organization switcher. Knows Flask's request; knows no blueprint."""
