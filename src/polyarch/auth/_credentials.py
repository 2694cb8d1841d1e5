"""A registry's credentials, as one source of them gives them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Credentials"]


@dataclass(frozen=True, repr=False)
class Credentials:
    """Credentials for one registry: a username and password, or an identity token.

    ``source`` says where they came from, for diagnostics ("~/.docker/config.json (auths)",
    "credential helper docker-credential-pass"). ``repr``/``str`` mask the secrets.
    """

    username: str = ""
    password: str = ""
    identity_token: str = ""
    source: str = ""

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to authenticate with."""
        return not (self.username or self.password or self.identity_token)

    def __repr__(self) -> str:
        password = "***" if self.password else ""
        token = "***" if self.identity_token else ""
        return (
            f"Credentials(username={self.username!r}, password={password!r}, "
            f"identity_token={token!r}, source={self.source!r})"
        )

    __str__ = __repr__
