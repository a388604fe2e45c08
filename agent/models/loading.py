"""Loading model files and folders: what loaded, what was refused and why.

This is the edge where model files meet the disk; the parsers it calls are pure. A folder is walked
recursively for ``*.xml`` (DDF) and ``*.json`` models, so a copy of the OMA registry or a project's
``objects/`` folder loads in one call; other files (``.xsd`` schemas, READMEs) and hidden entries
are passed over. A refused file never stops the others from loading: the caller gets every problem
at once, each naming its file.

A file named explicitly is always checked; only while walking a folder are the OMA registry's
companion files (its index ``DDF.xml``, ``Common.xml``, the SenML units) skipped, with the reason kept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.model import ModelRegistry, ObjectModel
from .checks import version_key
from .ddf import parse_ddf
from .errors import ModelError, ModelWarning, NotAnObjectDefinition
from .json_model import parse_json_models
from .parsed import ParsedModels

MAX_MODEL_FILE_BYTES = 8 * 1024 * 1024
"""The largest model file read; the biggest OMA object file is ~35 kB, so more is not a model."""

MODEL_SUFFIXES = (".xml", ".json")


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A file that loaded, with the models it defines."""

    path: str
    models: list[ObjectModel]


@dataclass
class LoadResult:
    """Everything a load found: loaded files, refused files, skipped files and warnings."""

    loaded: list[LoadedFile] = field(default_factory=list)
    refused: list[ModelError] = field(default_factory=list)
    skipped: list[NotAnObjectDefinition] = field(default_factory=list)
    warnings: list[ModelWarning] = field(default_factory=list)

    @property
    def models(self) -> list[ObjectModel]:
        """Every model loaded, in load order (several versions of one object may be here)."""
        return [model for loaded in self.loaded for model in loaded.models]

    def registry(self) -> ModelRegistry:
        """The loaded models by object id, keeping the highest ObjectVersion of each."""
        return newest_models(self.models)


def newest_models(models: Iterable[ObjectModel]) -> ModelRegistry:
    """A registry of ``models`` where each object id maps to its highest ObjectVersion (first on a tie)."""
    registry = ModelRegistry()
    for model in models:
        known = registry.get(model.id)
        if known is None or version_key(model.version) > version_key(known.version):
            registry.add(model)
    return registry


def parse_model_bytes(data: bytes, source: str) -> ParsedModels:
    """Parse a model file's content by its name: ``.json`` is JSON, anything else DDF XML."""
    if source.lower().endswith(".json"):
        return parse_json_models(data, source)
    return parse_ddf(data, source)


def load_model_file(path: Path | str) -> ParsedModels:
    """Load one model file; raise ModelError (naming the file) if it cannot be loaded."""
    source = str(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # Opening a FIFO or a device named *.xml would block or never end.
            raise ModelError(source, "", "not a regular file", "give a model file, or a folder of them")
        with open(path, "rb") as stream:
            data = stream.read(MAX_MODEL_FILE_BYTES + 1)
    except OSError as problem:
        raise ModelError(
            source, "", f"cannot read the file ({problem.strerror})", "check the path and its permissions"
        ) from None
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise ModelError(
            source,
            "",
            f"file is larger than {MAX_MODEL_FILE_BYTES // (1024 * 1024)} MiB; no object model is",
            "check that this is an object model file",
        )
    return parse_model_bytes(data, source)


def _walk(folder: Path, refused: list[ModelError]) -> Iterator[Path]:
    def unreadable(problem: OSError) -> None:
        refused.append(
            ModelError(
                str(problem.filename or folder),
                "",
                f"cannot read the folder ({problem.strerror})",
                "check its permissions",
            )
        )

    # os.walk does not follow symbolic links to folders, so a link loop cannot make this hang.
    for top, folders, files in os.walk(folder, onerror=unreadable):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(MODEL_SUFFIXES):
                yield Path(top, name)


def _load_into(result: LoadResult, path: Path, walking: bool) -> None:
    try:
        parsed = load_model_file(path)
    except NotAnObjectDefinition as companion:
        (result.skipped if walking else result.refused).append(companion)
        return
    except ModelError as problem:
        result.refused.append(problem)
        return
    result.loaded.append(LoadedFile(str(path), parsed.models))
    result.warnings.extend(parsed.warnings)


def load_models(paths: Iterable[Path | str]) -> LoadResult:
    """Load model files and folders (walked recursively); never raises for a bad file."""
    result = LoadResult()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in _walk(path, result.refused):
                _load_into(result, found, walking=True)
        elif not path.exists():
            result.refused.append(ModelError(str(given), "", "no such file or folder", "check the path"))
        elif not path.name.lower().endswith(MODEL_SUFFIXES):
            result.refused.append(
                ModelError(
                    str(given),
                    "",
                    "not a model file (.xml or .json)",
                    "give a DDF XML (.xml) or JSON (.json) object model, or a folder of them",
                )
            )
        else:
            _load_into(result, path, walking=False)
    return result


def validate_paths(paths: Iterable[Path | str]) -> tuple[list[str], int, int]:
    """Check model files and folders for the CLI: the lines to print, files loaded, files refused.

    One line per refused file (``<file>: <element>: <reason>; fix: <fix>``), then one per warning
    (``<file>: warning: ...``) and one per skipped registry companion file (``<file>: skipped: ...``).
    Only refused files count as failures.
    """
    result = load_models(paths)
    lines = [str(problem) for problem in result.refused]
    lines += [str(warning) for warning in result.warnings]
    lines += [f"{skipped.file}: skipped: {skipped.reason}" for skipped in result.skipped]
    return lines, len(result.loaded), len(result.refused)
