#!/usr/bin/env bash
# Contract tooling: copy proto dependencies, lint, generate stubs, check that
# the committed stubs match, and check for breaking changes.
#
#   tools/protos.sh deps       copy google/api protos from the installed package
#   tools/protos.sh lint       buf lint (STANDARD and COMMENTS)
#   tools/protos.sh gen        regenerate generated/ris/v1
#   tools/protos.sh check      fail when generated/ differs from what protos/ produce
#   tools/protos.sh breaking [REF]
#                              buf breaking (WIRE_JSON) against git REF (default HEAD~1)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
DEPS=build/proto-deps

deps() {
  local src
  src=$("$PYTHON" -c 'import os; from google.api import annotations_pb2 as m; print(os.path.dirname(m.__file__))')
  mkdir -p "$DEPS/google/api"
  cp "$src/annotations.proto" "$src/http.proto" "$DEPS/google/api/"
}

generate_into() {
  local out=$1
  mkdir -p "$out/ris/v1"
  local wkt
  wkt=$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
  "$PYTHON" -m grpc_tools.protoc -Iprotos -I"$DEPS" -I"$wkt" \
    --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
    --mypy_grpc_out="$out" \
    protos/ris/v1/*.proto
  touch "$out/ris/__init__.py" "$out/ris/v1/__init__.py" "$out/ris/v1/py.typed"
}

case "${1:-}" in
  deps) deps ;;
  lint) deps; buf lint ;;
  gen)
    deps
    rm -f generated/ris/v1/*_pb2*.py generated/ris/v1/*_pb2*.pyi
    generate_into generated
    ;;
  check)
    deps
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    generate_into "$tmp"
    if ! diff -r -x __pycache__ "$tmp/ris" generated/ris; then
      echo "generated/ differs from what protos/ produce: run 'make protos' and commit." >&2
      exit 1
    fi
    echo "generated/ matches protos/"
    ;;
  breaking)
    deps
    ref=${2:-HEAD~1}
    if ! git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
      echo "no git ref $ref to compare against; breaking check skipped"
      exit 0
    fi
    if ! git cat-file -e "$ref:protos/ris/v1" 2>/dev/null; then
      echo "$ref has no protos/ris/v1; breaking check skipped"
      exit 0
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git archive "$ref" protos buf.yaml | tar -x -C "$tmp"
    mkdir -p "$tmp/build"
    cp -r "$DEPS" "$tmp/build/"
    (cd "$tmp" && buf build -o before.binpb)
    buf build -o "$tmp/after.binpb"
    # Both images hold the google/api files too; they never differ.
    buf breaking "$tmp/after.binpb" --against "$tmp/before.binpb" \
      --config '{"version": "v2", "breaking": {"use": ["WIRE_JSON"]}}'
    echo "no breaking change against $ref"
    ;;
  *)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
