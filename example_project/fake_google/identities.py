"""The demo Google accounts a visitor can pick on the consent page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    key: str
    sub: str
    given_name: str
    family_name: str
    email: str
    locale: str
    colour: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def avatar_svg(self) -> str:
        # Served by the stand-in itself, so pictures show without the internet.
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
            f'<circle cx="48" cy="48" r="48" fill="{self.colour}"/>'
            '<text x="48" y="62" font-family="sans-serif" font-size="42" fill="#fff" '
            f'text-anchor="middle">{self.given_name[0]}{self.family_name[0]}</text></svg>'
        )


IDENTITIES: dict[str, Identity] = {
    identity.key: identity
    for identity in (
        Identity(
            key="ada",
            sub="100000000000000000001",
            given_name="Ada",
            family_name="Lovelace",
            email="ada.lovelace@example.com",
            locale="en-GB",
            colour="#1a73e8",
        ),
        Identity(
            key="alan",
            sub="100000000000000000002",
            given_name="Alan",
            family_name="Turing",
            email="alan.turing@example.com",
            locale="en",
            colour="#188038",
        ),
        Identity(
            key="grace",
            sub="100000000000000000003",
            given_name="Grace",
            family_name="Hopper",
            email="grace.hopper@example.com",
            locale="en-US",
            colour="#c5221f",
        ),
    )
}
