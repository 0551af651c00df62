"""Extension points of the execution services (no receivers in production code)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent right after a write-ahead OrderAttempt row is committed and before its request is sent
# (kwargs: attempt). The tests' worker uses it to pause there so a SIGKILL lands in that gap.
write_ahead_committed = Signal()
