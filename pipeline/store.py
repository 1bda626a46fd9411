"""SQLite storage: schema, migrations, and the history of every check."""
