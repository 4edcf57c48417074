#!/usr/bin/env bash
# The main job end to end on the bundled example (`npm run example`):
#
#   examples/hello/hello.c --gcc -static--> rootfs/hello --ocipush build--> OCI layout
#     --> checked by hand (sha256 of every blob, diff_id, the file in the layer)
#     --> oci-image-tool validate, umoci unpack
#     --> ocipush push to a real registry, read back with ocipush pull and skopeo inspect
#     --> ocipush export, podman load
#     --> runc run: prints "hello world"                   (as root)
#     --> ocipush build -f examples/hello/Dockerfile: the same layer
#
# Every tool it uses is checked first. Missing ones are installed with apt-get when running as
# root on Debian (as .ci/run does); otherwise the script stops before doing anything, exit 1,
# and prints the one command that installs them. No step is skipped silently: a step that did
# not run is named in the last line, and the last line says what ran.
#
# The registry: $REGISTRY if set; else a private docker-registry on a free loopback port; else,
# where a Docker engine answers, registry:2 through docker compose (scripts/registry.sh).
#
# Options and environment:
#   --no-install, OCIPUSH_EXAMPLE_INSTALL=no   never install: report what is missing and stop
#   REGISTRY=HOST:PORT  push to this registry (e.g. localhost:5000 from scripts/registry.sh)
#   KEEP=1              keep the work directory (layout, archive, bundle) and print its path
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INSTALL="${OCIPUSH_EXAMPLE_INSTALL:-auto}"
for arg in "$@"; do
  case "$arg" in
    --no-install) INSTALL=no ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "example: unknown argument '$arg' (use --no-install)" >&2; exit 2 ;;
  esac
done
case "$INSTALL" in auto|no) ;; *) echo "example: OCIPUSH_EXAMPLE_INSTALL must be auto or no, not '$INSTALL'" >&2; exit 2 ;; esac

OCIPUSH=(node "$ROOT/bin/ocipush.js")
WORK=""
REGISTRY_PID=""
COMPOSE_STATE=""
PODMAN_RUNROOT=""
RAN=()
NOT_RUN=()

cleanup() {
  local status=$?
  if [ -n "$REGISTRY_PID" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  fi
  if [ -n "$COMPOSE_STATE" ]; then
    OCIPUSH_REGISTRY_DIR="$COMPOSE_STATE" OCIPUSH_REGISTRY_PORT="$PORT" bash "$ROOT/scripts/registry.sh" stop --remove-data >/dev/null 2>&1 || true
  fi
  [ -n "$PODMAN_RUNROOT" ] && rm -rf "$PODMAN_RUNROOT"
  if [ -n "$WORK" ]; then
    # Rootless podman leaves read-only directories behind: make them writable to remove them.
    if [ "${KEEP:-}" = 1 ]; then echo "work directory kept: $WORK"; else chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"; fi
  fi
  if [ "$status" -ne 0 ]; then echo "example FAILED (exit $status)" >&2; fi
  exit "$status"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() { printf '    FAILED: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
# Runs a command, showing it first, indented.
show() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; return "${PIPESTATUS[0]}"; }
json() { node -e "const v = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log(eval(process.argv[1]))" "$1"; }
free_port() { node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
docker_engine() { have docker && docker info >/dev/null 2>&1; }

# --- 0. the tools ------------------------------------------------------------------------------
step "the tools this example uses"
# tool:Debian package. A static binary needs libc.a (libc6-dev) besides gcc.
TOOLS=(gcc:gcc oci-image-tool:oci-image-tool umoci:umoci skopeo:skopeo podman:podman runc:runc)
REGISTRY_MODE=given
if [ -z "${REGISTRY:-}" ]; then
  if have docker-registry; then REGISTRY_MODE=binary
  elif docker_engine; then REGISTRY_MODE=compose
  else REGISTRY_MODE=binary; TOOLS+=(docker-registry:docker-registry)
  fi
fi
MISSING_TOOLS=()
MISSING_PACKAGES=()
for entry in "${TOOLS[@]}"; do
  tool="${entry%%:*}"
  if ! have "$tool"; then MISSING_TOOLS+=("$tool"); MISSING_PACKAGES+=("${entry#*:}"); fi
done
static_libc() { have gcc && [ -f "$(gcc -print-file-name=libc.a)" ]; }
if ! static_libc; then MISSING_TOOLS+=("libc.a"); MISSING_PACKAGES+=(libc6-dev); fi
# podman looks its rootless helpers (newuidmap) up even as root.
if have podman || [[ " ${MISSING_PACKAGES[*]} " == *" podman "* ]]; then
  have newuidmap || { MISSING_TOOLS+=(newuidmap); MISSING_PACKAGES+=(uidmap); }
fi

if ((${#MISSING_PACKAGES[@]})); then
  if [ "$INSTALL" = auto ] && [ "$(id -u)" -eq 0 ] && have apt-get; then
    echo "    installing ${MISSING_PACKAGES[*]} (apt-get, as root)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update"
    apt-get install -y -qq --no-install-recommends "${MISSING_PACKAGES[@]}" >/dev/null || fail "apt-get install ${MISSING_PACKAGES[*]}"
    for tool in "${MISSING_TOOLS[@]}"; do
      if [ "$tool" = libc.a ]; then static_libc || fail "libc.a is still missing after apt-get install libc6-dev"
      else have "$tool" || fail "$tool is still missing after apt-get install"; fi
    done
    ok "installed ${MISSING_PACKAGES[*]}"
  else
    command="apt-get update && apt-get install -y --no-install-recommends ${MISSING_PACKAGES[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      command="sudo sh -c '$command'"
      why="not running as root"
    else
      why="installing is switched off (--no-install or OCIPUSH_EXAMPLE_INSTALL=no)"
    fi
    have apt-get || why="$why, and there is no apt-get here (the packages are Debian's)"
    {
      echo "example: missing: ${MISSING_TOOLS[*]}; $why, so nothing was run."
      echo "example: this makes it work, then run 'npm run example' again:"
      echo "    $command"
    } >&2
    exit 1
  fi
else
  ok "all there: gcc (static libc) oci-image-tool umoci skopeo podman runc, registry: ${REGISTRY:-$REGISTRY_MODE}"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ocipush-example.XXXXXX")"
LAYOUT="$WORK/layout"
TAG="hello:0.1"

# --- 1. ocipush itself -------------------------------------------------------------------------
step "ocipush"
if [ ! -f "$ROOT/dist/src/cli/main.js" ]; then
  echo "    dist/ is missing: building the TypeScript (npm run build)"
  npm run --silent build
fi
ok "ocipush $("${OCIPUSH[@]}" --version)"

# --- 2. the binary -----------------------------------------------------------------------------
step "compile examples/hello/hello.c statically into a root filesystem"
mkdir -p "$WORK/rootfs"
show gcc -static -O2 -o "$WORK/rootfs/hello" examples/hello/hello.c || fail "gcc -static failed"
OUT="$("$WORK/rootfs/hello")"
[ "$OUT" = "hello world" ] || fail "the compiled binary printed '$OUT'"
ok "$WORK/rootfs/hello ($(stat -c %s "$WORK/rootfs/hello") bytes) prints: $OUT"

# --- 3. build ----------------------------------------------------------------------------------
step "ocipush build: rootfs -> OCI image layout"
printf '    $ ocipush build %s --entrypoint /hello --owner 0:0 --tag %s --layout %s\n' "$WORK/rootfs" "$TAG" "$LAYOUT"
"${OCIPUSH[@]}" build "$WORK/rootfs" --entrypoint /hello --owner 0:0 --tag "$TAG" --layout "$LAYOUT" --json >"$WORK/build.json" 2>"$WORK/build.err" \
  || { cat "$WORK/build.err" >&2; fail "ocipush build"; }
DIGEST="$(json v.digest <"$WORK/build.json")"
ok "$TAG = $DIGEST"
(cd "$LAYOUT" && find . -type f ! -name '.*' | sort | sed 's/^/      /')
RAN+=(build)

# --- 4. validate -------------------------------------------------------------------------------
step "check the layout by hand: index -> manifest -> config -> layer, every blob under its sha256"
blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }
check_blob() {
  local digest="$2" actual
  actual="sha256:$(sha256sum "$(blob "$1" "$digest")" | cut -d' ' -f1)"
  [ "$actual" = "$digest" ] || fail "blob $digest in $1 has content $actual"
}
INDEXED="$(json "v.manifests.find(m => (m.annotations||{})['org.opencontainers.image.ref.name'] === '$TAG')?.digest" <"$LAYOUT/index.json")"
[ "$INDEXED" = "$DIGEST" ] || fail "index.json names $TAG $INDEXED, build said $DIGEST"
check_blob "$LAYOUT" "$DIGEST"
CONFIG="$(json v.config.digest <"$(blob "$LAYOUT" "$DIGEST")")"
check_blob "$LAYOUT" "$CONFIG"
LAYER="$(json 'v.layers[0].digest' <"$(blob "$LAYOUT" "$DIGEST")")"
LAYER_TYPE="$(json 'v.layers[0].mediaType' <"$(blob "$LAYOUT" "$DIGEST")")"
check_blob "$LAYOUT" "$LAYER"
case "$LAYER_TYPE" in
  *gzip) UNPACK=(gzip -dc) ;;
  *zstd) UNPACK=(zstd -dc) ;;
  *) UNPACK=(cat) ;;
esac
DIFF_ID="sha256:$("${UNPACK[@]}" "$(blob "$LAYOUT" "$LAYER")" | sha256sum | cut -d' ' -f1)"
[ "$DIFF_ID" = "$(json 'v.rootfs.diff_ids[0]' <"$(blob "$LAYOUT" "$CONFIG")")" ] || fail "the layer's diff_id is not the config's rootfs.diff_ids[0]"
mkdir -p "$WORK/check"
"${UNPACK[@]}" "$(blob "$LAYOUT" "$LAYER")" | tar -x -C "$WORK/check"
cmp -s "$WORK/check/hello" "$WORK/rootfs/hello" || fail "/hello in the layer differs from the compiled binary"
ENTRYPOINT="$(json 'JSON.stringify(v.config.Entrypoint)' <"$(blob "$LAYOUT" "$CONFIG")")"
[ "$ENTRYPOINT" = '["/hello"]' ] || fail "config Entrypoint is $ENTRYPOINT"
ok "manifest, config and layer match their digests; diff_id $DIFF_ID; /hello is the binary; Entrypoint $ENTRYPOINT"
RAN+=("check by hand")

step "oci-image-tool validate"
show oci-image-tool validate --type image --ref "name=$TAG" "$LAYOUT" || fail "oci-image-tool validate"
ok "the layout is a valid OCI image layout"
RAN+=("oci-image-tool validate")

step "umoci unpack"
UMOCI_FLAGS=()
[ "$(id -u)" -eq 0 ] || UMOCI_FLAGS=(--rootless)
show umoci unpack "${UMOCI_FLAGS[@]}" --image "$LAYOUT:$TAG" "$WORK/bundle" || fail "umoci unpack"
cmp -s "$WORK/bundle/rootfs/hello" "$WORK/rootfs/hello" || fail "umoci unpacked a different /hello"
ok "umoci unpacked $TAG: rootfs/hello is the compiled binary"
RAN+=("umoci unpack")

# --- 5. push, and read it back -----------------------------------------------------------------
step "ocipush push to a real registry"
wait_for_registry() {
  for _ in $(seq 1 100); do
    if node -e "require('http').get('http://$REGISTRY/v2/', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))" 2>/dev/null; then return 0; fi
    [ -z "$REGISTRY_PID" ] || kill -0 "$REGISTRY_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
case "$REGISTRY_MODE" in
  binary)
    PORT="$(free_port)"
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
    wait_for_registry || { cat "$WORK/registry/log" >&2; fail "docker-registry did not start"; }
    ok "docker-registry (pid $REGISTRY_PID) serves http://$REGISTRY/v2/"
    ;;
  compose)
    PORT="$(free_port)"
    COMPOSE_STATE="$WORK/registry"
    export COMPOSE_PROJECT_NAME="ocipush-example-$$"
    OCIPUSH_REGISTRY_MODE=docker OCIPUSH_REGISTRY_DIR="$COMPOSE_STATE" OCIPUSH_REGISTRY_PORT="$PORT" \
      show bash "$ROOT/scripts/registry.sh" start || fail "docker compose could not start registry:2"
    REGISTRY="127.0.0.1:$PORT"
    wait_for_registry || fail "registry:2 does not answer at http://$REGISTRY/v2/"
    ok "registry:2 (docker compose project $COMPOSE_PROJECT_NAME) serves http://$REGISTRY/v2/"
    ;;
  given) ok "pushing to REGISTRY=$REGISTRY" ;;
esac
show "${OCIPUSH[@]}" push "$REGISTRY/hello:0.1" --layout "$LAYOUT" --tag "$TAG" --digest-file "$WORK/pushed.digest" || fail "ocipush push"
[ "$(cat "$WORK/pushed.digest")" = "$DIGEST" ] || fail "push reports $(cat "$WORK/pushed.digest"), the layout has $DIGEST"
ok "pushed $REGISTRY/hello:0.1 = $DIGEST"
RAN+=(push)

step "read it back: ocipush pull into a fresh layout, skopeo inspect"
show "${OCIPUSH[@]}" pull "$REGISTRY/hello:0.1" --layout "$WORK/pulled" || fail "ocipush pull"
PULLED="$(json "v.manifests.find(m => (m.annotations||{})['org.opencontainers.image.ref.name'] === '0.1')?.digest" <"$WORK/pulled/index.json")"
[ "$PULLED" = "$DIGEST" ] || fail "pulled manifest $PULLED, pushed $DIGEST"
for d in "$DIGEST" "$CONFIG" "$LAYER"; do
  check_blob "$WORK/pulled" "$d"
  cmp -s "$(blob "$WORK/pulled" "$d")" "$(blob "$LAYOUT" "$d")" || fail "pulled blob $d differs"
done
ok "ocipush pull: manifest, config and layer came back byte for byte"
REMOTE="sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/hello:0.1" | sha256sum | cut -d' ' -f1)"
[ "$REMOTE" = "$DIGEST" ] || fail "skopeo reads manifest $REMOTE from the registry, the layout has $DIGEST"
ok "skopeo inspect docker://$REGISTRY/hello:0.1: the same manifest, $DIGEST"
RAN+=("pull back")

# --- 6. export ---------------------------------------------------------------------------------
step "ocipush export: a docker load / podman load archive, loaded by podman"
show "${OCIPUSH[@]}" export "$TAG" --layout "$LAYOUT" -o "$WORK/hello.tar" || fail "ocipush export"
tar -tvf "$WORK/hello.tar" | sed 's/^/      /'
ok "$WORK/hello.tar: $(tar -xOf "$WORK/hello.tar" manifest.json)"
# vfs: no overlay mounts needed; a short runroot because podman refuses one over 50 characters.
PODMAN_RUNROOT="$(mktemp -d /tmp/ocp-XXXXXX)"
PODMAN=(podman --storage-driver vfs --root "$WORK/podman" --runroot "$PODMAN_RUNROOT")
show "${PODMAN[@]}" load -q -i "$WORK/hello.tar" || fail "podman load"
show "${PODMAN[@]}" images || fail "podman images"
ok "podman loaded hello:0.1"
RAN+=("export + podman load")

# --- 7. run ------------------------------------------------------------------------------------
step "runc run: the image prints hello world"
if [ "$(id -u)" -ne 0 ]; then
  echo "    NOT RUN: runc run here needs root (rootless containers need more setup than this example does)"
  NOT_RUN+=("runc run (needs root)")
else
  # umoci writes a bundle for a terminal; runc then wants a console socket.
  node -e "const f = process.argv[1], fs = require('fs'), c = JSON.parse(fs.readFileSync(f)); c.process.terminal = false; fs.writeFileSync(f, JSON.stringify(c))" "$WORK/bundle/config.json"
  printf '    $ runc run --bundle %s ocipush-example-%s\n' "$WORK/bundle" "$$"
  OUT="$(runc --root "$WORK/runc" run --bundle "$WORK/bundle" "ocipush-example-$$" </dev/null)" || fail "runc run"
  runc --root "$WORK/runc" delete --force "ocipush-example-$$" >/dev/null 2>&1 || true
  [ "$OUT" = "hello world" ] || fail "the container printed '$OUT'"
  ok "the container printed: $OUT"
  RAN+=("runc run")
fi

# --- 8. the Dockerfile frontend ----------------------------------------------------------------
step "ocipush build -f examples/hello/Dockerfile: the same layer from the Dockerfile"
mkdir -p "$WORK/context"
cp examples/hello/Dockerfile "$WORK/rootfs/hello" "$WORK/context/"
printf '    $ ocipush build -f %s %s --tag hello:dockerfile --layout %s\n' "$WORK/context/Dockerfile" "$WORK/context" "$LAYOUT"
"${OCIPUSH[@]}" build -f "$WORK/context/Dockerfile" "$WORK/context" --tag hello:dockerfile --layout "$LAYOUT" --json >"$WORK/dockerfile.json" 2>"$WORK/dockerfile.err" \
  || { cat "$WORK/dockerfile.err" >&2; fail "ocipush build -f Dockerfile"; }
DOCKERFILE_LAYER="$(json 'v.layers[0].digest' <"$WORK/dockerfile.json")"
[ "$DOCKERFILE_LAYER" = "$LAYER" ] || fail "the Dockerfile's layer is $DOCKERFILE_LAYER, the rootfs build's $LAYER"
ok "hello:dockerfile = $(json v.digest <"$WORK/dockerfile.json"), its layer is the rootfs build's ($LAYER)"
RAN+=("build -f Dockerfile")

step "done"
list() { local out="" item; for item in "$@"; do out="${out:+$out, }$item"; done; echo "$out"; }
if ((${#NOT_RUN[@]})); then
  ok "ran: $(list "${RAN[@]}"); NOT run: $(list "${NOT_RUN[@]}")"
else
  ok "the example ran end to end: $(list "${RAN[@]}")"
fi
