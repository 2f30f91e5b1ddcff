"""Server reflection under both grpc.reflection.v1 and v1alpha, with the contract's comments.

grpcio-reflection implements only v1alpha. The v1 protocol is the same messages under another
package, so we register the v1alpha servicer a second time under the v1 service name and add a
v1 copy of its file descriptor to the pool, which keeps `grpcurl describe` complete.

The pool's symbol lookup knows services, messages (nested too), fields, enums, enum values and
loaded extensions, but not a method's full name (`user.v1.UserService.GetUser`), which ghz and
other tools built on the same reflection client ask for: a method resolves to its service here.

Descriptors in the pool carry no comments, so our own files are served from the generated
descriptor set (gen/python/user/v1/descriptor_set.json), which keeps them: `grpcurl describe`
shows the API reference written in the protos.
"""

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA = "grpc.reflection.v1alpha"
V1 = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1}.ServerReflection"


def _register_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindServiceByName(V1_SERVICE_NAME)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name = "grpc/reflection/v1/reflection.proto"
    file.package = V1
    for message in file.message_type:
        for field in message.field:
            if field.type_name:
                field.type_name = field.type_name.replace(f".{V1ALPHA}.", f".{V1}.")
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(f".{V1ALPHA}.", f".{V1}.")
            method.output_type = method.output_type.replace(f".{V1ALPHA}.", f".{V1}.")
    pool.Add(file)


def documented_files(path: Path) -> dict[str, bytes]:
    """Our proto files with their source info (comments), serialized, by file name; `path` is
    the descriptor set (JSON) that `make gen` writes next to the generated code."""
    files = json_format.Parse(path.read_text(), descriptor_pb2.FileDescriptorSet())
    return {file.name: file.SerializeToString() for file in files.file}


class DocumentedReflectionServicer(reflection.aio.ReflectionServicer):  # type: ignore[misc,name-defined]
    """The standard servicer, answering with documented descriptors where we have them."""

    def __init__(
        self,
        service_names: Iterable[str],
        pool: descriptor_pool.DescriptorPool,
        documented: Path,
    ) -> None:
        super().__init__(tuple(service_names), pool=pool)
        self._documented = documented_files(documented)

    def _resolvable(self, symbol: str) -> str:
        """`symbol`, or its service when it names a method (which lives in the same file)."""
        service, _, method = symbol.rpartition(".")
        try:
            if method in self._pool.FindServiceByName(service).methods_by_name:
                return service
        except KeyError:
            pass
        return symbol

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        return super()._file_containing_symbol(request, self._resolvable(fully_qualified_name))

    async def ServerReflectionInfo(  # noqa: N802 - the generated method name
        self, request_iterator: Any, context: Any
    ) -> AsyncIterator[reflection_pb2.ServerReflectionResponse]:
        async for response in super().ServerReflectionInfo(request_iterator, context):
            if response.HasField("file_descriptor_response"):
                files = response.file_descriptor_response.file_descriptor_proto
                for index, raw in enumerate(files):
                    name = descriptor_pb2.FileDescriptorProto.FromString(raw).name
                    if name in self._documented:
                        files[index] = self._documented[name]
            yield response


def enable_reflection(
    service_names: Iterable[str], server: grpc.aio.Server, documented: Path
) -> None:
    pool = descriptor_pool.Default()
    _register_v1_descriptor(pool)
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME)
    servicer = DocumentedReflectionServicer(names, pool, documented)
    for service_name in (reflection.SERVICE_NAME, V1_SERVICE_NAME):
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service_name, {"ServerReflectionInfo": handler}),)
        )
