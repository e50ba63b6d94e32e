#!/usr/bin/env bash
# Build vegeta, the HTTP load generator of the bench, into bench/.tools/.
# Without Go the bench measures HTTP with its httpx fallback instead, so a
# missing Go is a note, not an error.
set -euo pipefail

version="v12.13.0"
tools="$(cd "$(dirname "$0")/.." && pwd)/bench/.tools"

if [ -x "$tools/vegeta" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "note: go not found, so the bench drives HTTP with httpx; install Go 1.22+ for vegeta"
  exit 0
fi
mkdir -p "$tools"
GOBIN="$tools" go install "github.com/tsenart/vegeta/v12@$version"
echo "vegeta $version built: $tools/vegeta"
