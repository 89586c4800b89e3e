"""``inbox backup`` and ``inbox restore``: a whole store, history included, copied while hosts keep working.

Formats (:class:`~inbox.backup.formats.BackupFormat`): ``sqlite`` (SQLite's online backup API: a store file of its
own), ``pg_dump`` (PostgreSQL's custom format) and ``json`` (every row of every table, one per line, with the
schema revision: readable by either backend). :mod:`inbox.backup.run` chooses and orchestrates.
"""
