"""inbox: a self-hosted scheduler for a personal AI assistant, in which every task is a delayed message."""

from typing import TYPE_CHECKING

from inbox.errors import Conflict, InboxError, InvalidInput, NotFound

if TYPE_CHECKING:
    from inbox.api import Inbox
    from inbox.fire_times import preview

__all__ = ["Conflict", "Inbox", "InboxError", "InvalidInput", "NotFound", "preview"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The store's API (SQLAlchemy, the models) is loaded when first asked for, not by every ``inbox.*`` import:
    # a command such as ``inbox --help`` then starts without it.
    if name == "Inbox":
        from inbox.api import Inbox

        return Inbox
    if name == "preview":  # fire times need no store
        from inbox.fire_times import preview

        return preview
    raise AttributeError(f"module 'inbox' has no attribute {name!r}")
