"""Every Redis key the desk writes, in one place. All start with `fd:desk:` and all expire.

fd:desk:session:<sha256 of the session token>   JSON session; TTL = session_lifetime, renewed
                                                on use, never past session_max_age
fd:desk:fail:user:<username>                    failed logins of a username; TTL = login_window
fd:desk:fail:addr:<client address>              failed logins from one address; same TTL
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "fd:desk:"


def token_digest(token: str) -> str:
    """Sessions are stored under a digest of their token: a dump of Redis reveals no cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DeskKeys:
    prefix: str = PREFIX

    def session(self, token: str) -> str:
        return f"{self.prefix}session:{token_digest(token)}"

    def failures(self, kind: str, who: str) -> str:
        return f"{self.prefix}fail:{kind}:{who}"
