"""Revoked sessions, kept in memory so an access token check needs no I/O.

A session is one login: its refresh tokens share the session id, and every
access token it issues carries that id in its `sid` claim. Revoking a
session (logout, refresh-token reuse, the concurrent-session limit) writes
the store first, then adds the id here. TokenService.verify_access rejects a
token whose session is listed. An entry is dropped once every access token
of its session has expired.
"""

import heapq

# Slack for a refresh that had passed its store check when the revocation
# was committed and issues its token a moment later. The refresh checks the
# set again after issuing, so the slack only covers the time between taking
# the revocation time and adding the entry.
SLACK = 60.0


class SessionRevocations:
    """Set of revoked session ids, each kept until its tokens cannot be valid.

    `horizon` is the longest an access token stays valid after it is issued:
    the access token lifetime plus the allowed clock skew.
    """

    def __init__(self, horizon: float) -> None:
        if horizon <= 0:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self._drop_at: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._drop_at)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._drop_at

    def add(self, session_id: str, revoked_at: float, now: float) -> None:
        """List a session revoked at `revoked_at`, and drop entries now stale."""
        self._prune(now)
        drop_at = max(revoked_at, now) + self.horizon + SLACK
        if drop_at <= now:
            return
        if drop_at > self._drop_at.get(session_id, 0.0):
            self._drop_at[session_id] = drop_at
            heapq.heappush(self._queue, (drop_at, session_id))

    def load(self, revoked: list[tuple[str, float]], now: float) -> int:
        """Add sessions read from the store at start; return how many are kept."""
        for session_id, revoked_at in revoked:
            drop_at = revoked_at + self.horizon + SLACK
            if drop_at > now and drop_at > self._drop_at.get(session_id, 0.0):
                self._drop_at[session_id] = drop_at
                heapq.heappush(self._queue, (drop_at, session_id))
        return len(self._drop_at)

    def is_revoked(self, session_id: str, now: float) -> bool:
        drop_at = self._drop_at.get(session_id)
        if drop_at is None:
            return False
        if drop_at <= now:
            self._prune(now)
            return False
        return True

    def oldest_needed(self, now: float) -> float:
        """Return the earliest revocation time whose session must still be listed."""
        return now - self.horizon - SLACK

    def _prune(self, now: float) -> None:
        queue = self._queue
        while queue and queue[0][0] <= now:
            drop_at, session_id = heapq.heappop(queue)
            # A session revoked twice has a later entry; keep that one.
            if self._drop_at.get(session_id) == drop_at:
                del self._drop_at[session_id]
