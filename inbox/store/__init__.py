"""The message store: tables, migrations, series operations, endings and catch-up."""
