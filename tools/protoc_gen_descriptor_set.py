"""buf plugin that writes each proto package's files, with their comments, as a FileDescriptorSet.

The generated _pb2 modules carry descriptors without source info, so server reflection would
serve the API without its documentation. A server's reflection pool is built from its package's
set instead (`<package path>/descriptor_set.json` beside the package's _pb2 modules, e.g.
order/v1/descriptor_set.json), and `grpcurl describe` shows the proto comments. Each set holds
the package's files and everything they import, so one set describes its service completely.
"""

import sys
from collections import defaultdict

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.compiler import plugin_pb2

FILE_NAME = "descriptor_set.json"


def with_imports(
    names: list[str], files: dict[str, descriptor_pb2.FileDescriptorProto]
) -> list[descriptor_pb2.FileDescriptorProto]:
    """`names` and their transitive imports, in the request's order (imports first)."""
    needed: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(files[name].dependency)
    return [file for name, file in files.items() if name in needed]


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    files = {file.name: file for file in request.proto_file}
    by_directory: dict[str, list[str]] = defaultdict(list)
    for name in request.file_to_generate:
        by_directory[name.rpartition("/")[0]].append(name)
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    for directory, names in sorted(by_directory.items()):
        descriptor_set = descriptor_pb2.FileDescriptorSet(file=with_imports(names, files))
        generated = response.file.add(name=f"{directory}/{FILE_NAME}")
        # JSON, because plugin outputs are UTF-8 text and a binary set would not survive.
        generated.content = json_format.MessageToJson(descriptor_set, indent=1) + "\n"
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
