"""Every proto package is complete: documented, bound to HTTP, generated and served with docs."""

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, json_format

from tests.support.tools import REPO_ROOT

# Each proto package with its files (without `.proto`).
PACKAGES = {
    "user.v1": ("user", "events"),
    "order.v1": ("order", "events"),
    "billing.v1": ("billing", "events", "saga"),
}

# Field numbers in descriptor.proto, which source-code-info paths are made of.
FILE_MESSAGES, FILE_ENUMS, FILE_SERVICES = 4, 5, 6
MESSAGE_FIELDS, MESSAGE_NESTED, MESSAGE_ENUMS = 2, 3, 4
ENUM_VALUES, SERVICE_METHODS = 2, 2

Path_ = tuple[int, ...]


def modules(package: str) -> list[ModuleType]:
    return [importlib.import_module(f"{package}.{name}_pb2") for name in PACKAGES[package]]


def descriptor_set(package: str) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The package's generated descriptor set (the one its server's reflection serves)."""
    path = Path(modules(package)[0].__file__ or "").with_name("descriptor_set.json")
    files = json_format.Parse(path.read_text(), descriptor_pb2.FileDescriptorSet()).file
    return {file.name: file for file in files}


def enum_elements(enum: descriptor_pb2.EnumDescriptorProto, path: Path_) -> dict[Path_, str]:
    elements = {path: enum.name}
    for index, value in enumerate(enum.value):
        elements[(*path, ENUM_VALUES, index)] = value.name
    return elements


def message_elements(message: descriptor_pb2.DescriptorProto, path: Path_) -> dict[Path_, str]:
    elements = {path: message.name}
    for index, field in enumerate(message.field):
        elements[(*path, MESSAGE_FIELDS, index)] = f"{message.name}.{field.name}"
    for index, nested in enumerate(message.nested_type):
        elements |= message_elements(nested, (*path, MESSAGE_NESTED, index))
    for index, enum in enumerate(message.enum_type):
        elements |= enum_elements(enum, (*path, MESSAGE_ENUMS, index))
    return elements


def file_elements(file: descriptor_pb2.FileDescriptorProto) -> dict[Path_, str]:
    """Every message, field, enum, enum value, service and method, by source-code-info path."""
    elements: dict[Path_, str] = {}
    for index, message in enumerate(file.message_type):
        elements |= message_elements(message, (FILE_MESSAGES, index))
    for index, enum in enumerate(file.enum_type):
        elements |= enum_elements(enum, (FILE_ENUMS, index))
    for index, service in enumerate(file.service):
        elements[(FILE_SERVICES, index)] = service.name
        for number, method in enumerate(service.method):
            elements[(FILE_SERVICES, index, SERVICE_METHODS, number)] = method.name
    return elements


@pytest.mark.parametrize("package", PACKAGES)
def test_every_element_has_a_comment_in_the_served_descriptor_set(package: str) -> None:
    # The comments become the reflection docs (grpcurl describe) and API descriptions.
    files = descriptor_set(package)
    for module in modules(package):
        file = files[module.DESCRIPTOR.name]
        assert file.package == package
        documented = {
            tuple(location.path)
            for location in file.source_code_info.location
            if location.leading_comments.strip()
        }
        undocumented = [
            name for path, name in file_elements(file).items() if path not in documented
        ]
        assert undocumented == [], f"{file.name}: no leading comment on {undocumented}"


@pytest.mark.parametrize("package", PACKAGES)
def test_descriptor_set_holds_everything_the_package_imports(package: str) -> None:
    files = descriptor_set(package)
    for file in files.values():
        assert set(file.dependency) <= set(files), file.name


@pytest.mark.parametrize("package", PACKAGES)
def test_every_rpc_has_an_http_binding(package: str) -> None:
    # AIP-127: the gateway transcodes REST to every method, so none may lack a rule.
    methods = [
        method
        for module in modules(package)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]
    assert methods, f"{package} has no RPCs"
    unbound = [
        method.full_name
        for method in methods
        if method.GetOptions().Extensions[annotations_pb2.http].WhichOneof("pattern") is None
    ]
    assert unbound == []


@pytest.mark.parametrize("package", PACKAGES)
def test_service_config_names_only_the_package_services(package: str) -> None:
    path = REPO_ROOT / "proto" / package.replace(".", "/") / "service_config.json"
    config = json.loads(path.read_text())
    named = {name["service"] for method in config["methodConfig"] for name in method["name"]}
    services = {
        service.full_name
        for module in modules(package)
        for service in module.DESCRIPTOR.services_by_name.values()
    }
    assert named == services
