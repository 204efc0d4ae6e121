"""The revisions, oldest first by file name; Alembic skips this file."""
