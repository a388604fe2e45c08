"""Object models from files: OMA DDF XML and a JSON form, validated, and the models the agent ships.

``agent.core.model`` says what an object model is; this package reads and writes the files that
define models, refuses a bad one with a message naming the file, the element and the fix, and finds
the models shipped in the project's ``objects/`` folder.
"""

from .ddf import dump_ddf, parse_ddf
from .errors import ModelError, ModelWarning, NotAnObjectDefinition
from .json_model import dump_json, dumps_json, load_json, parse_json_models
from .loading import (
    LoadedFile,
    LoadResult,
    load_model_file,
    load_models,
    newest_models,
    parse_model_bytes,
    validate_paths,
)
from .parsed import ParsedModels
from .shipped import shipped_models, shipped_objects_dir

__all__ = [
    "LoadResult",
    "LoadedFile",
    "ModelError",
    "ModelWarning",
    "NotAnObjectDefinition",
    "ParsedModels",
    "dump_ddf",
    "dump_json",
    "dumps_json",
    "load_json",
    "load_model_file",
    "load_models",
    "newest_models",
    "parse_ddf",
    "parse_json_models",
    "parse_model_bytes",
    "shipped_models",
    "shipped_objects_dir",
    "validate_paths",
]
