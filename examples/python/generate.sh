#!/bin/sh
# Generates the Python stubs of switchboard.v1 into ./gen from the repository's proto files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/gen"
python3 -m grpc_tools.protoc -I "$here/../../proto" \
    --python_out="$here/gen" --grpc_python_out="$here/gen" \
    "$here"/../../proto/switchboard/v1/*.proto
