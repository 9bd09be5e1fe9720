"""RS256 access tokens shaped like the Auth0 tokens the real service hands out.

A fresh RSA key is generated for each emulator, so a token from one instance never verifies
on another. The authority remembers every token it signed: the data endpoint can then check
a token with a dictionary look-up, and tests can expire or revoke tokens server-side.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://probable-futures-emulator.local/"
AUDIENCE = "https://graphql.probablefutures.org"


@dataclass
class IssuedToken:
    """What the server knows about one token it signed. ``expires_at`` is a Unix time."""

    token: str
    client_id: str
    permissions: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on a bearer token: its permissions when valid, else the 401 message."""

    permissions: tuple[str, ...] = ()
    error: str | None = None


def iso_utc(unix_time: float) -> str:
    """'2026-12-05T19:40:00.000Z', the format of the service's ``expires_at``."""
    moment = datetime.fromtimestamp(unix_time, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TokenAuthority:
    """Signs, caches (one live token per client, as the real server does) and checks tokens."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex[:16]
        self.public_key_pem: str = (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )
        self._lock = threading.Lock()
        self._issued: dict[str, IssuedToken] = {}
        self._order: list[str] = []
        self._current: dict[str, IssuedToken] = {}

    def token_for(self, client_id: str, permissions: Sequence[str], lifetime: float) -> tuple[IssuedToken, bool]:
        """The client's cached token while it is valid, else a new one; and whether it is new."""
        with self._lock:
            cached = self._current.get(client_id)
            if cached is not None and not cached.revoked and cached.expires_at > time.time():
                return cached, False
        issued = self.issue(client_id, permissions, lifetime)
        with self._lock:
            self._current[client_id] = issued
        return issued, True

    def issue(self, client_id: str, permissions: Sequence[str], lifetime: float) -> IssuedToken:
        """Sign a new token; it does not replace the client's cached one."""
        now = time.time()
        expires_at = now + lifetime
        perms = tuple(permissions)
        claims = {
            "iss": ISSUER,
            "sub": f"{client_id}@clients",
            "aud": AUDIENCE,
            "iat": int(now),
            # Never later than expires_at: a client trusting `exp` refreshes no later than the server expects.
            "exp": math.floor(expires_at),
            "azp": client_id,
            "scope": " ".join(perms),
            "gty": "client-credentials",
            "permissions": list(perms),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        issued = IssuedToken(token, client_id, perms, expires_at)
        with self._lock:
            self._issued[token] = issued
            self._order.append(token)
        return issued

    def check(self, token: str) -> TokenCheck:
        """Verify a bearer token with the messages express-jwt uses for each failure."""
        with self._lock:
            known = self._issued.get(token)
        if known is not None:
            if known.revoked:
                return TokenCheck(error="invalid signature")
            if known.expires_at <= time.time():
                return TokenCheck(error="jwt expired")
            return TokenCheck(permissions=known.permissions)
        return self._check_foreign(token)

    def _check_foreign(self, token: str) -> TokenCheck:
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            return TokenCheck(error="jwt expired")
        except jwt.InvalidSignatureError:
            return TokenCheck(error="invalid signature")
        except jwt.InvalidAudienceError:
            return TokenCheck(error=f"jwt audience invalid. expected: {AUDIENCE}")
        except jwt.InvalidIssuerError:
            return TokenCheck(error=f"jwt issuer invalid. expected: {ISSUER}")
        except jwt.InvalidAlgorithmError:
            return TokenCheck(error="invalid algorithm")
        except jwt.DecodeError:
            return TokenCheck(error="jwt malformed")
        except jwt.InvalidTokenError:
            return TokenCheck(error="invalid token")
        permissions = claims.get("permissions")
        return TokenCheck(permissions=tuple(permissions) if isinstance(permissions, list) else ())

    def expire(self, token: str | None = None) -> int:
        """Make one token (or all) expire now; returns how many were live."""
        now = time.time()
        with self._lock:
            if token is None:
                targets = list(self._issued.values())
            else:
                targets = [self._issued[token]] if token in self._issued else []
            count = 0
            for issued in targets:
                if issued.expires_at > now:
                    issued.expires_at = now
                    count += 1
            return count

    def revoke(self, token: str) -> bool:
        """Make /graphql answer 'invalid signature' for this token from now on."""
        with self._lock:
            issued = self._issued.get(token)
            if issued is None:
                return False
            issued.revoked = True
            return True

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._order)
