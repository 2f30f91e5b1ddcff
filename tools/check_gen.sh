#!/usr/bin/env bash
# Fails when gen/ differs from a fresh `buf generate`: a changed or missing
# generated file, or a stale one that generation no longer produces.
set -euo pipefail
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
buf generate --output "$fresh" 2> >(grep -v "^Writing mypy to" >&2)
# The gateway's binary descriptor set, as `make gen` writes it with buf build.
mkdir -p "$fresh/gen/descriptor"
buf build --as-file-descriptor-set --exclude-source-info -o "$fresh/gen/descriptor/usersuite.binpb"
status=0
while IFS= read -r file; do
  if ! cmp -s "$fresh/$file" "$file"; then
    echo "check-gen: $file differs from a fresh generation (run 'make gen')" >&2
    status=1
  fi
done < <(cd "$fresh" && find gen -type f | sort)
# Generated files are recognised by name (*_pb2*.py* covers the Python stubs,
# *.pb.go also covers *_grpc.pb.go; then the OpenAPI document and the gateway's
# descriptor set); hand-written module files (go.mod, package.json, tsconfig.json),
# installed dependencies and Python's bytecode cache (written whenever the
# generated modules are imported) are not generated.
while IFS= read -r file; do
  if [[ ! -e "$fresh/$file" ]]; then
    echo "check-gen: $file is not produced by generation any more (remove it)" >&2
    status=1
  fi
done < <(find gen -type f \( -name '*_pb2*.py*' -o -name '*.pb.go' -o -name '*_pb.ts' -o -name 'descriptor_set.json' \
           -o -name '*.swagger.json' -o -name '*.binpb' \) \
           -not -path '*/node_modules/*' -not -path '*/__pycache__/*' | sort)
exit $status
