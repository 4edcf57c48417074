#!/usr/bin/env bash
# The main job end to end on the bundled example (`npm run example`):
#
#   examples/hello/hello.c --gcc -static--> rootfs/hello --ocipush build--> OCI layout
#     --> checked by hand (sha256 of every blob, diff_id, the file in the layer)
#     --> oci-image-tool validate, umoci unpack            (when installed)
#     --> ocipush push to a local registry, skopeo inspect (when docker-registry is installed)
#     --> ocipush export, podman load                      (when podman is installed)
#     --> runc run: prints "hello world"                   (when runc and umoci are installed, as root)
#
# Build and the checks by hand always run (they need only node, gcc with a static libc, tar,
# gzip and sha256sum); every other step runs when its tool and its ocipush command exist and is
# skipped with a message otherwise. A step that runs and fails stops the script with an error.
#
# Environment:
#   REGISTRY=HOST:PORT  push to this registry (e.g. localhost:5000 from scripts/registry.sh or
#                       docker compose up) instead of a private docker-registry on a free port
#   KEEP=1              keep the work directory (layout, archive, bundle) and print its path
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OCIPUSH=(node "$ROOT/bin/ocipush.js")
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ocipush-example.XXXXXX")"
LAYOUT="$WORK/layout"
TAG="hello:0.1"
REGISTRY_PID=""
PODMAN_RUNROOT=""

cleanup() {
  local status=$?
  if [ -n "$REGISTRY_PID" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  fi
  [ -n "$PODMAN_RUNROOT" ] && rm -rf "$PODMAN_RUNROOT"
  if [ "${KEEP:-}" = 1 ]; then
    echo "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  if [ "$status" -ne 0 ]; then echo "example FAILED (exit $status)" >&2; fi
  exit "$status"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
skip() { printf '    skipped: %s\n' "$*"; }
fail() { printf '    FAILED: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
# Runs a command, showing it first, indented.
show() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; return "${PIPESTATUS[0]}"; }
json() { node -e "const v = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log(eval(process.argv[1]))" "$1"; }

# --- 0. ocipush itself -------------------------------------------------------------------------
step "ocipush: which commands this checkout has"
if [ ! -f "$ROOT/dist/src/cli/main.js" ]; then
  echo "    dist/ is missing: building the TypeScript (npm run build)"
  npm run --silent build
fi
HELP="$("${OCIPUSH[@]}" --help)"
has_command() { grep -qE "^  ocipush $1( |\$)" <<<"$HELP"; }
COMMANDS="$(grep -oE '^  ocipush [a-z-]+' <<<"$HELP" | awk '{print $2}' | tr '\n' ' ')"
ok "ocipush $("${OCIPUSH[@]}" --version): ${COMMANDS}"
has_command build || fail "this checkout has no 'ocipush build' command"

# --- 1. the binary -----------------------------------------------------------------------------
step "compile examples/hello/hello.c statically into a root filesystem"
have gcc || fail "gcc is needed (Debian: apt-get install gcc libc6-dev)"
mkdir -p "$WORK/rootfs"
show gcc -static -O2 -o "$WORK/rootfs/hello" examples/hello/hello.c \
  || fail "gcc -static failed (the static C library comes with libc6-dev)"
OUT="$("$WORK/rootfs/hello")"
[ "$OUT" = "hello world" ] || fail "the compiled binary printed '$OUT'"
ok "$WORK/rootfs/hello ($(stat -c %s "$WORK/rootfs/hello") bytes) prints: $OUT"

# --- 2. build ----------------------------------------------------------------------------------
step "ocipush build: rootfs -> OCI image layout"
build_example() {
  printf '    $ ocipush build %s --entrypoint /hello --tag %s --layout %s\n' "$WORK/rootfs" "$TAG" "$LAYOUT"
  "${OCIPUSH[@]}" build "$WORK/rootfs" --entrypoint /hello --tag "$TAG" --layout "$LAYOUT" --json >"$WORK/build.json" 2>"$WORK/build.err"
}
if ! build_example; then
  # A build that takes only plain tags (no repository in the layout name): tag 0.1, and name the
  # repository where an image name is needed (export --repository hello).
  if grep -q -- '--tag' "$WORK/build.err" && [ "$TAG" != "0.1" ]; then
    sed 's/^/    /' "$WORK/build.err"
    echo "    this build takes a plain tag: using --tag 0.1 (repository hello where a name is needed)"
    TAG="0.1"
    build_example || { cat "$WORK/build.err" >&2; fail "ocipush build"; }
  else
    cat "$WORK/build.err" >&2
    fail "ocipush build"
  fi
fi
DIGEST="$(json v.digest <"$WORK/build.json")"
ok "$TAG = $DIGEST"
(cd "$LAYOUT" && find . -type f ! -name '.*' | sort | sed 's/^/      /')

# --- 3. validate -------------------------------------------------------------------------------
step "check the layout by hand: index -> manifest -> config -> layer, every blob under its sha256"
blob() { echo "$LAYOUT/blobs/${1%%:*}/${1#*:}"; }
check_blob() {
  local digest="$1" actual
  actual="sha256:$(sha256sum "$(blob "$digest")" | cut -d' ' -f1)"
  [ "$actual" = "$digest" ] || fail "blob $digest has content $actual"
}
INDEXED="$(json "v.manifests.find(m => (m.annotations||{})['org.opencontainers.image.ref.name'] === '$TAG')?.digest" <"$LAYOUT/index.json")"
[ "$INDEXED" = "$DIGEST" ] || fail "index.json names $TAG $INDEXED, build said $DIGEST"
check_blob "$DIGEST"
CONFIG="$(json v.config.digest <"$(blob "$DIGEST")")"
check_blob "$CONFIG"
LAYER="$(json 'v.layers[0].digest' <"$(blob "$DIGEST")")"
LAYER_TYPE="$(json 'v.layers[0].mediaType' <"$(blob "$DIGEST")")"
check_blob "$LAYER"
case "$LAYER_TYPE" in
  *gzip) UNPACK=(gzip -dc) ;;
  *zstd) UNPACK=(zstd -dc) ;;
  *) UNPACK=(cat) ;;
esac
DIFF_ID="sha256:$("${UNPACK[@]}" "$(blob "$LAYER")" | sha256sum | cut -d' ' -f1)"
[ "$DIFF_ID" = "$(json 'v.rootfs.diff_ids[0]' <"$(blob "$CONFIG")")" ] || fail "the layer's diff_id is not the config's rootfs.diff_ids[0]"
mkdir -p "$WORK/check"
"${UNPACK[@]}" "$(blob "$LAYER")" | tar -x -C "$WORK/check"
cmp -s "$WORK/check/hello" "$WORK/rootfs/hello" || fail "/hello in the layer differs from the compiled binary"
ENTRYPOINT="$(json 'JSON.stringify(v.config.Entrypoint)' <"$(blob "$CONFIG")")"
[ "$ENTRYPOINT" = '["/hello"]' ] || fail "config Entrypoint is $ENTRYPOINT"
ok "manifest, config and layer match their digests; diff_id $DIFF_ID; /hello is the binary; Entrypoint $ENTRYPOINT"

step "oci-image-tool validate"
if have oci-image-tool; then
  show oci-image-tool validate --type image --ref "name=$TAG" "$LAYOUT" || fail "oci-image-tool validate"
  ok "the layout is a valid OCI image layout"
else
  skip "oci-image-tool is not installed (Debian: apt-get install oci-image-tool)"
fi

step "umoci unpack"
UMOCI_FLAGS=()
[ "$(id -u)" -eq 0 ] || UMOCI_FLAGS=(--rootless)
if have umoci; then
  show umoci unpack "${UMOCI_FLAGS[@]}" --image "$LAYOUT:$TAG" "$WORK/bundle" || fail "umoci unpack"
  cmp -s "$WORK/bundle/rootfs/hello" "$WORK/rootfs/hello" || fail "umoci unpacked a different /hello"
  ok "umoci unpacked $TAG: rootfs/hello is the compiled binary"
else
  skip "umoci is not installed (Debian: apt-get install umoci)"
fi

# --- 4. push -----------------------------------------------------------------------------------
step "ocipush push to a local registry"
if ! has_command push; then
  skip "this checkout has no 'ocipush push' yet"
elif [ -z "${REGISTRY:-}" ] && ! have docker-registry; then
  skip "docker-registry is not installed (Debian: apt-get install docker-registry), and REGISTRY is not set"
else
  if [ -z "${REGISTRY:-}" ]; then
    PORT="$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")"
    mkdir -p "$WORK/registry"
    cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: "$WORK/registry/data"
http:
  addr: "127.0.0.1:$PORT"
  secret: "ocipush-example"
EOF
    docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
    REGISTRY_PID=$!
    REGISTRY="127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
      if node -e "require('http').get('http://$REGISTRY/v2/', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))" 2>/dev/null; then break; fi
      kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$WORK/registry/log" >&2; fail "docker-registry did not start"; }
      sleep 0.1
    done
    ok "docker-registry (pid $REGISTRY_PID) serves http://$REGISTRY/v2/"
  fi
  show "${OCIPUSH[@]}" push "$REGISTRY/hello:0.1" --layout "$LAYOUT" --tag "$TAG" || fail "ocipush push"
  if have skopeo; then
    REMOTE="$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/hello:0.1" | sha256sum | cut -d' ' -f1)"
    [ "sha256:$REMOTE" = "$DIGEST" ] || fail "the registry serves manifest sha256:$REMOTE, the layout has $DIGEST"
    ok "skopeo inspect docker://$REGISTRY/hello:0.1: the same manifest, $DIGEST"
  else
    ok "pushed (skopeo is not installed to cross-check: apt-get install skopeo)"
  fi
fi

# --- 5. export ---------------------------------------------------------------------------------
step "ocipush export: a docker load / podman load archive"
if ! has_command export; then
  skip "this checkout has no 'ocipush export' yet"
else
  if [[ "$TAG" == *:* ]]; then EXPORT_NAME=("$TAG"); else EXPORT_NAME=("$TAG=hello:$TAG"); fi
  show "${OCIPUSH[@]}" export "${EXPORT_NAME[@]}" --layout "$LAYOUT" -o "$WORK/hello.tar" || fail "ocipush export"
  tar -tvf "$WORK/hello.tar" | sed 's/^/      /'
  ok "$WORK/hello.tar: $(tar -xOf "$WORK/hello.tar" manifest.json)"
  if have podman; then
    # vfs: no overlay mounts needed; a short runroot because podman refuses one over 50 characters.
    PODMAN_RUNROOT="$(mktemp -d /tmp/ocp-XXXXXX)"
    PODMAN=(podman --storage-driver vfs --root "$WORK/podman" --runroot "$PODMAN_RUNROOT")
    show "${PODMAN[@]}" load -q -i "$WORK/hello.tar" || fail "podman load"
    show "${PODMAN[@]}" images || fail "podman images"
    ok "podman loaded hello:0.1"
  else
    skip "podman is not installed to load it (Debian: apt-get install podman); docker load -i $WORK/hello.tar would"
  fi
fi

# --- 6. run ------------------------------------------------------------------------------------
step "runc run: the image prints hello world"
if ! have runc || ! have umoci; then
  skip "runc and umoci are needed (Debian: apt-get install runc umoci)"
elif [ "$(id -u)" -ne 0 ]; then
  skip "runc here runs as root only"
elif [ ! -d "$WORK/bundle" ]; then
  skip "no bundle was unpacked"
else
  # umoci writes a bundle for a terminal; runc then wants a console socket.
  node -e "const f = process.argv[1], fs = require('fs'), c = JSON.parse(fs.readFileSync(f)); c.process.terminal = false; fs.writeFileSync(f, JSON.stringify(c))" "$WORK/bundle/config.json"
  printf '    $ runc run --bundle %s ocipush-example-%s\n' "$WORK/bundle" "$$"
  OUT="$(runc --root "$WORK/runc" run --bundle "$WORK/bundle" "ocipush-example-$$" </dev/null)" || fail "runc run"
  runc --root "$WORK/runc" delete --force "ocipush-example-$$" >/dev/null 2>&1 || true
  [ "$OUT" = "hello world" ] || fail "the container printed '$OUT'"
  ok "the container printed: $OUT"
fi

# --- 7. the Dockerfile frontend ----------------------------------------------------------------
step "ocipush build -f examples/hello/Dockerfile: the same image from the Dockerfile"
if ! "${OCIPUSH[@]}" build --help | grep -qE -- '(-f, )?--file'; then
  skip "this checkout's build has no Dockerfile frontend (-f) yet"
else
  mkdir -p "$WORK/context"
  cp examples/hello/Dockerfile "$WORK/rootfs/hello" "$WORK/context/"
  show "${OCIPUSH[@]}" build -f "$WORK/context/Dockerfile" "$WORK/context" --tag hello:dockerfile --layout "$LAYOUT" \
    || fail "ocipush build -f Dockerfile"
  ok "built hello:dockerfile from examples/hello/Dockerfile"
fi

step "done"
ok "the example ran end to end"
