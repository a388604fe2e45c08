"""The spec checker the cloud tests rely on must fail on answers the spec does not allow."""

from __future__ import annotations

import pytest
from cloud_openapi import validate_answer
from jsonschema.exceptions import ValidationError
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData

ENTRY_PATH = "/v1/data/Subscriber/001010000000001"
JSON = {"Content-Type": "application/json"}


def test_a_well_formed_entry_list_passes() -> None:
    body = (
        b'[{"resourceType":"Subscriber","resourceId":"1","time":1,"contentType":"text/plain","content":"x"}]'
    )
    validate_answer("api", "GET", ENTRY_PATH, {}, 200, JSON, body)


def test_a_wrongly_typed_field_fails() -> None:
    with pytest.raises(InvalidData):
        validate_answer("api", "GET", ENTRY_PATH, {}, 200, JSON, b'[{"time":"yesterday"}]')


def test_an_unknown_resource_type_value_fails() -> None:
    with pytest.raises(InvalidData):
        validate_answer("api", "GET", ENTRY_PATH, {}, 200, JSON, b'[{"resourceType":"Toaster"}]')


def test_an_error_without_message_fails() -> None:
    with pytest.raises(InvalidData):
        validate_answer("api", "GET", ENTRY_PATH, {}, 401, JSON, b'{"code":"AUM0001"}')


def test_an_undeclared_success_status_fails() -> None:
    with pytest.raises(ResponseNotFound):
        validate_answer("harvest", "POST", "/", {}, 200, {}, b"")


def test_a_success_on_an_unknown_route_fails() -> None:
    with pytest.raises(PathNotFound):
        validate_answer("api", "GET", "/v1/no_such_service", {}, 200, JSON, b"[]")


def test_an_error_on_an_unknown_route_must_have_the_error_shape() -> None:
    validate_answer("api", "GET", "/v1/no_such_service", {}, 404, JSON, b'{"code":"COM0002","message":"x"}')
    with pytest.raises(ValidationError):
        validate_answer("api", "GET", "/v1/no_such_service", {}, 404, JSON, b'{"error":"not found"}')


def test_file_paths_with_slashes_find_their_operation() -> None:
    validate_answer("api", "PUT", "/v1/files/private/a/b/c.txt", {}, 201, {}, b"")
    validate_answer("api", "GET", "/v1/files/private/", {}, 200, JSON, b"[]")
    validate_answer("files", "PUT", "/x/y/z.bin", {}, 201, {}, b"")
