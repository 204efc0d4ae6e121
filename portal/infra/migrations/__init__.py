"""Alembic's environment and revisions; run through portal.infra.migrate."""
