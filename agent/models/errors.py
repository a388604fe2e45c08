"""What goes wrong in an object-model file, said so that a person can fix it.

Model files are written by hand (custom objects) or copied from the OMA registry, and the agent
refuses to start on a bad one; so every problem names the file, the element or field inside it
(``Object 3303 / Item 5700 / Type``) and what to do, on one line a CLI can print as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ModelError(Exception):
    """A model file, or one element of it, that cannot be loaded."""

    def __init__(self, file: str, element: str, reason: str, fix: str) -> None:
        self.file = file
        self.element = element
        self.reason = _one_line(reason)
        self.fix = _one_line(fix)
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.file}: {self.element}:" if self.element else f"{self.file}:"
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{where} {self.reason}{fix}"

    def __str__(self) -> str:
        return self._text()


class NotAnObjectDefinition(ModelError):
    """A well-formed file of the OMA registry that is not an object definition.

    The registry keeps its index (``DDF.xml``), its reusable resources (``Common.xml``) and its
    SenML units next to the objects; a folder walk skips these instead of refusing them.
    """


@dataclass(frozen=True, slots=True)
class ModelWarning:
    """Something a model file gets wrong that the loader can still read without guessing.

    Files in the public registry carry a few such slips (an executable resource with a type), and
    the registry must load; the warning keeps the slip visible.
    """

    file: str
    element: str
    reason: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: warning: {self.element}:" if self.element else f"{self.file}: warning:"
        return f"{where} {_one_line(self.reason)}; fix: {_one_line(self.fix)}"
