"""buf plugin that writes the request's files, with their comments, as one FileDescriptorSet.

The generated _pb2 modules carry descriptors without source info, so server reflection would
serve the API without its documentation. The server's reflection pool is built from this set
instead, and `grpcurl describe` shows the proto comments.
"""

import sys

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.compiler import plugin_pb2

# JSON, because plugin outputs are UTF-8 text and a binary set would not survive.
OUTPUT = "user/v1/descriptor_set.json"


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    descriptor_set = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    generated = response.file.add(name=OUTPUT)
    generated.content = json_format.MessageToJson(descriptor_set, indent=1) + "\n"
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
