"""How many audit records a page holds by default and at most (the HTTP API, ``inbox audit``).

Apart from :mod:`inbox.audit` so that the command line can show them in its help without loading the store.
"""

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
