"""What Portal is about, without HTTP: the models, role changes and their
invariants, memberships, accounts, throttling, searches, paging, demo and scale
data. Never imports Flask's request, so the command line and tests use it as
the web does."""
