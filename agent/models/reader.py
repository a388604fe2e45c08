"""What both model-file readers (DDF XML and JSON) do alike: name the file in every error.

A reader works through one document, turns each field check's :class:`FieldError` into a
:class:`ModelError` that names the file and the element, collects the slips it forgives as
warnings, and refuses a resource id given twice; only the syntax it walks differs, so each format
subclasses this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..core.model import Operations, ResourceModel, ResourceType
from . import checks
from .checks import FieldError
from .errors import ModelError, ModelWarning

_T = TypeVar("_T")


class ModelReader:
    """Reads one document; knows the file name so every error can name it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.warnings: list[ModelWarning] = []

    def error(self, element: str, reason: str, fix: str) -> ModelError:
        return ModelError(self.source, element, reason, fix)

    def check(self, element: str, convert: Callable[[Any], _T], raw: Any) -> _T:
        try:
            return convert(raw)
        except FieldError as problem:
            raise self.error(element, problem.reason, problem.fix) from None

    def resource_type(self, ops: Operations, declared: ResourceType, element: str) -> ResourceType:
        """The type to load for a resource with ``ops``; a disagreement is kept as a warning."""
        rtype, slip = checks.resource_kind(ops, declared)
        if slip is not None:
            self.warnings.append(ModelWarning(self.source, element, slip.reason, slip.fix))
        return rtype

    def add_resource(
        self, resources: dict[int, ResourceModel], resource: ResourceModel, element: str, fix: str
    ) -> None:
        if resource.id in resources:
            raise self.error(element, f"resource id {resource.id} appears twice", fix)
        resources[resource.id] = resource
