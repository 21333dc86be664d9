"""A protoc plugin (CodeGeneratorRequest on stdin, CodeGeneratorResponse on stdout) that runs
grpcio-tools' built-in gRPC Python generator, so that `buf generate` can drive it as a local
plugin: grpcio-tools ships that generator inside its own protoc (`--grpc_python_out`), not as a
`protoc-gen-grpc_python` binary, and buf's `protoc_builtin` only knows protoc's own generators.

The request's files (with their dependencies) go to that protoc as a descriptor set; every file
it writes comes back in the response. Run with the Python that has grpcio-tools installed.
"""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main():
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = os.path.join(tmp, "request.binpb")
        with open(descriptors, "wb") as f:
            f.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        args = ["protoc", f"--descriptor_set_in={descriptors}", f"--grpc_python_out={out}"]
        if request.parameter:
            args.append(f"--grpc_python_opt={request.parameter}")
        # protoc writes its own diagnostics to stderr, which buf shows.
        if protoc.main(args + list(request.file_to_generate)) != 0:
            response.error = "grpcio-tools' protoc failed (see above)"
        else:
            for root, _, names in os.walk(out):
                for name in sorted(names):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        response.file.add(name=os.path.relpath(path, out), content=f.read())
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
