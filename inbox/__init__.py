"""inbox: a self-hosted scheduler for a personal AI assistant, in which every task is a delayed message."""

from inbox.api import Inbox, preview
from inbox.errors import Conflict, InboxError, InvalidInput, NotFound

__all__ = ["Conflict", "Inbox", "InboxError", "InvalidInput", "NotFound", "preview"]
__version__ = "0.1.0"
