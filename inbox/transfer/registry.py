"""The sections an export holds, in the order they are written and imported.

To carry a new kind of object (say webhooks), write a module beside these with its item model and a
:class:`~inbox.transfer.section.Section`, and add it here. Adding a section keeps the format's version: an older
release refuses a file holding a section it does not know, naming it, rather than dropping it. Changing an
existing section's items in a way an older release would read wrongly bumps :data:`VERSION`.
"""

from __future__ import annotations

from typing import Any

from inbox.transfer.messages import MESSAGES
from inbox.transfer.section import Section
from inbox.transfer.tasks import TASKS

FORMAT = "inbox-export"
VERSION = 1

SECTIONS: tuple[Section[Any], ...] = (TASKS, MESSAGES)
