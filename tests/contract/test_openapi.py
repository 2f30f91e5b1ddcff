"""The generated OpenAPI document is valid OpenAPI v2 and describes every HTTP binding."""

import json

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from tests.support.tools import REPO_ROOT

OPENAPI = REPO_ROOT / "gen" / "openapi" / "usersuite.swagger.json"
DESCRIPTOR_SET = REPO_ROOT / "gen" / "descriptor" / "usersuite.binpb"


def bound_methods() -> set[str]:
    """Every method of every service in proto/ that has a google.api.http binding."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file
    return {
        f"{service.name}_{method.name}"
        for file in files
        if not file.name.startswith("google/")
        for service in file.service
        for method in service.method
        if method.options.HasExtension(annotations_pb2.http)
    }


def test_the_document_is_valid_openapi_v2() -> None:
    validate(json.loads(OPENAPI.read_text()))


def test_every_bound_method_is_an_operation_with_its_comment() -> None:
    document = json.loads(OPENAPI.read_text())
    operations = {
        operation["operationId"]: operation
        for path in document["paths"].values()
        for operation in path.values()
    }
    assert set(operations) == bound_methods()
    assert "UserService_CreateUser" in operations
    assert operations["UserService_GetUser"]["summary"], "proto comments are the descriptions"
    # Fields keep their proto names, as the gateway prints them.
    assert "display_name" in document["definitions"]["User"]["properties"]
