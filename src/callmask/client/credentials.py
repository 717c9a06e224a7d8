"""userId + token, or an ssid: never both, as the API requires."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    user_id: str | None = None
    token: str | None = field(default=None, repr=False)
    ssid: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        pair = self.user_id is not None and self.token is not None
        if pair == (self.ssid is not None) or (self.user_id is None) != (self.token is None):
            raise ValueError("give user_id and token, or ssid alone")

    def body(self) -> dict[str, object]:
        if self.ssid is not None:
            return {"ssid": self.ssid}
        return {"userId": self.user_id, "token": self.token}
