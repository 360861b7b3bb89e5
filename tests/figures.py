"""Figures that tests measure (matrix sizes, example counts, outcomes), printed
at the end of the pytest run by the hook in conftest.py."""

FIGURES: dict[str, str] = {}


def report(name: str, value: object) -> None:
    FIGURES[name] = str(value)
