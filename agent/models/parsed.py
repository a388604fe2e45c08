"""The outcome of reading one model file: its objects, and the slips it was forgiven.

Both loaders (DDF XML and JSON) return this, so the folder walker treats them alike.
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.model import ObjectModel
from .errors import ModelWarning


class ParsedModels(NamedTuple):
    """The object models one file defines, in file order, and the warnings raised on the way."""

    models: list[ObjectModel]
    warnings: list[ModelWarning]
