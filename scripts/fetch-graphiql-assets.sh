#!/usr/bin/env bash
# Fetches the files of the self-hosted GraphiQL playground (served at /graphiql when
# HUB_GRAPHIQL_ASSETS_DIR names a folder holding them) from the npm registry, by pinned version:
#
#   graphiql@4.1.2     graphiql.min.js, graphiql.min.css
#   react@18.3.1       umd/react.production.min.js      -> react.production.min.js
#   react-dom@18.3.1   umd/react-dom.production.min.js  -> react-dom.production.min.js
#
# Usage: scripts/fetch-graphiql-assets.sh [TARGET_DIR]   (default: assets/graphiql in the repository)
#
# Third-party bundles are not committed: the folder is git-ignored. A file already present with
# the pinned checksum is kept; any other is replaced. Needs npm, tar and sha256sum.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$repo_root/assets/graphiql}"

# package@version  path inside the package  file name in the target folder  its sha256
assets=(
  "graphiql@4.1.2 graphiql.min.js graphiql.min.js 867226ba8af5ce7949903fc53932f78dac9f4bfc6cc8da0fd3869b8bc6c5256b"
  "graphiql@4.1.2 graphiql.min.css graphiql.min.css 30487e07635d312a63f647b140d37740a73c53332b0975bf4b1fe985ca6ec885"
  "react@18.3.1 umd/react.production.min.js react.production.min.js d949f1c3687aedadcedac85261865f29b17cd273997e7f6b2bfc53b2f9d4c4dd"
  "react-dom@18.3.1 umd/react-dom.production.min.js react-dom.production.min.js 35f4f974f4b2bcd44da73963347f8952e341f83909e4498227d4e26b98f66f0d"
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

command -v npm >/dev/null 2>&1 || { echo "fetch-graphiql-assets: npm is not installed" >&2; exit 1; }

mkdir -p "$target"
work="$(mktemp -d "${TMPDIR:-/tmp}/graphiql-assets.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fetched=0
present=0
for entry in "${assets[@]}"; do
  read -r spec inner name sha256 <<<"$entry"
  dest="$target/$name"
  if [ -f "$dest" ]; then
    if [ "$(sha256_of "$dest")" = "$sha256" ]; then
      echo "  present  $name"
      present=$((present + 1))
      continue
    fi
    echo "  $name differs from the pinned $spec: fetching it again"
  fi
  pkg="${spec%@*}"
  version="${spec##*@}"
  unpacked="$work/$pkg-$version"
  if [ ! -d "$unpacked" ]; then
    echo "  npm pack $spec"
    npm pack --silent --pack-destination "$work" "$spec" >/dev/null
    tarball="$work/$pkg-$version.tgz"
    [ -f "$tarball" ] || { echo "fetch-graphiql-assets: npm pack did not produce $tarball" >&2; exit 1; }
    mkdir -p "$unpacked"
    tar -xzf "$tarball" -C "$unpacked"
  fi
  src="$unpacked/package/$inner"
  [ -s "$src" ] || { echo "fetch-graphiql-assets: $spec has no $inner" >&2; exit 1; }
  actual="$(sha256_of "$src")"
  if [ "$actual" != "$sha256" ]; then
    echo "fetch-graphiql-assets: $spec $inner has sha256 $actual, expected $sha256" >&2
    exit 1
  fi
  # Copy then rename, so an interrupted run never leaves a truncated file that counts as present.
  cp "$src" "$dest.partial.$$"
  mv -f "$dest.partial.$$" "$dest"
  echo "  fetched  $name ($spec, $(wc -c <"$dest" | tr -d ' ') bytes)"
  fetched=$((fetched + 1))
done

echo "graphiql assets: ${#assets[@]} files in $target ($fetched fetched, $present already present)"
