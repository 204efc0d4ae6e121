"""What everything stands on: configuration, the database engine and sessions,
migrations, the one clock, logging, password hashing. Imports nothing from the
layers above it."""
