#!/usr/bin/env bash
# The one publish command: the Dockerfile's build stage runs it, and CI runs it to keep it working.
# Usage: deploy/publish.sh [OUTPUT_DIR]   (default: artifacts/publish)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/publish}"
dotnet publish src/Sluice.Cli/Sluice.Cli.csproj --configuration Release --output "$out" --nologo
test -x "$out/sluice" || test -f "$out/sluice.dll"
