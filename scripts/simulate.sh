#!/usr/bin/env bash
# simulate.sh: the whole lab from one command, for those who prefer a script to `npm run
# simulate`. It runs the same program (scripts/simulate.ts, built to dist/scripts/simulate.js),
# which also runs on macOS and Windows; see `scripts/simulate.sh --help`. Needs a build: npx tsc -p .
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -f "$ROOT/dist/scripts/simulate.js" ]]; then
  echo "simulate.sh: dist/scripts/simulate.js is missing: build first with 'npx tsc -p .'" >&2
  exit 1
fi
exec "${NODE:-node}" "$ROOT/dist/scripts/simulate.js" "$@"
