"""Default timings: what the settings (inbox.config) start from and what the store falls back to when it is called
without settings. They live apart from both so that reading the settings does not load the store (SQLAlchemy,
the models): commands that never open the store, ``inbox next`` among them, start without it.
"""

from datetime import timedelta

# How long a claim stays a runner's without a heartbeat (INBOX_LEASE_SECONDS).
DEFAULT_LEASE = timedelta(seconds=60)
# Waits before the 2nd, 3rd and 4th attempt after a transient failure (SPEC: 30 s, 60 s, 5 min; INBOX_RETRY_BACKOFF).
BACKOFF = (timedelta(seconds=30), timedelta(seconds=60), timedelta(minutes=5))
# How late a slot may start and still be run rather than caught up (INBOX_MISFIRE_GRACE).
DEFAULT_MISFIRE_GRACE = timedelta(seconds=60)
# Waits before the 2nd to 6th attempt at an outbox row whose send failed in a way worth retrying
# (INBOX_DELIVERY_BACKOFF).
DELIVERY_BACKOFF = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
DELIVERY_TIMEOUT_S = 15.0  # one delivery attempt's time limit (INBOX_DELIVERY_TIMEOUT)
# How long before its due time a runner may claim a row it runs itself (an agent, http, command or worker run; never
# a reminder the host delivers): the claim, its round trip and the hand-over then happen before the due time, and the
# runner starts the work at the due time itself once the host's start gate says go (docs/runner.md, "Claimed
# early"). A pause, cancel or update that comes in the window hands the row back unstarted (docs/reliability.md).
CLAIM_AHEAD = timedelta(milliseconds=100)
# How long before the due time the start gate looks at a row claimed early and, when nothing holds it back, says go:
# the answer's way back to the runner (a millisecond or two, more on a busy machine) then ends before the due time,
# and the runner starts the work at the due time on its own clock (the host's: one kernel for both runtimes). So a
# pause, cancel or update must be written at least this long before the due time to hold the occurrence back; one
# written later applies to the next, as one written once a run has started does (docs/reliability.md).
GO_AHEAD = timedelta(milliseconds=10)
