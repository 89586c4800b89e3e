"""Moving definitions between stores (``inbox export`` / ``inbox import``): see :mod:`inbox.transfer.document`."""
