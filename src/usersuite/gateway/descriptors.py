"""The contract's FileDescriptorSet: where it is, and the gRPC services it declares."""

from importlib import resources
from pathlib import Path

DESCRIPTOR_SET_NAME = "usersuite.binpb"
# The wheel carries the set beside this module; a source checkout has it where `make gen` writes.
SOURCE_TREE_SET = Path(__file__).resolve().parents[3] / "gen" / "descriptor" / DESCRIPTOR_SET_NAME

# Field numbers of descriptor.proto: FileDescriptorSet.file, FileDescriptorProto.package and
# .service, ServiceDescriptorProto.name.
SET_FILE, FILE_PACKAGE, FILE_SERVICE, SERVICE_NAME = 1, 2, 6, 1
VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def default_descriptor_set() -> Path:
    """The descriptor set of the installed package, or of the source tree."""
    packaged = resources.files("usersuite.gateway") / DESCRIPTOR_SET_NAME
    if packaged.is_file():
        return Path(str(packaged))
    return SOURCE_TREE_SET


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    """The length-delimited fields of one message as (number, bytes); other fields skipped.

    The wire format is read by hand (a few lines) so that the gateway's configuration needs
    neither protobuf nor the generated code: Envoy is the one that decodes the set.
    """
    found, at = [], 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            _, at = _varint(data, at)
        elif wire_type == FIXED64:
            at += 8
        elif wire_type == FIXED32:
            at += 4
        elif wire_type == LEN:
            size, at = _varint(data, at)
            found.append((number, data[at : at + size]))
            at += size
        else:
            raise ValueError(f"not a FileDescriptorSet (wire type {wire_type})")
    return found


def services_in(descriptor_set: Path) -> list[str]:
    """The full names of the gRPC services the set declares, but Google's own."""
    services = []
    for number, file in _fields(descriptor_set.read_bytes()):
        if number != SET_FILE:
            continue
        fields = _fields(file)
        package = next((value.decode() for n, value in fields if n == FILE_PACKAGE), "")
        if package.startswith("google."):
            continue
        for n, service in fields:
            if n == FILE_SERVICE:
                name = next(value.decode() for k, value in _fields(service) if k == SERVICE_NAME)
                services.append(f"{package}.{name}" if package else name)
    return services
