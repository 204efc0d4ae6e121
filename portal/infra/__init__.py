"""What everything stands on: configuration, the database engine and sessions,
migrations, the one clock, logging, password hashing. Imports nothing from the
layers above it; only migrations/env.py, which Alembic runs as a script, reads the
models' metadata (for ``flask db revision --autogenerate``)."""
