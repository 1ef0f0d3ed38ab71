"""Authority: the shell (configuration, database, app factory, CLI, audit log)."""
