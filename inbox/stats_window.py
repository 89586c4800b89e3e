"""How far back ``Inbox.stats`` (and ``inbox stats``) looks by default: runs that ended within this.

Apart from the stats API so that the command line can show it in its help without loading the store.
"""

DEFAULT_SINCE = "7d"
