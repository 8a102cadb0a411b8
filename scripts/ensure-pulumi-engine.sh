#!/usr/bin/env bash
# Provision the real Pulumi engine (CLI + dynamic-provider helper) for this project.
#
# Why: tests and the demo must run the real `pulumi` CLI, but release downloads are
# unreachable here. We use a `pulumi` on PATH when it is new enough, otherwise build
# the CLI from the Go modules into a cache OUTSIDE the checkout, keyed by version, so
# a fresh clone (CI) reuses it. Prints the engine's bin directory on the last line.
#
# Two runs at once (two clones, CI and a developer) share that cache: a lock file
# beside it makes the second wait for the first build and then reuse its result
# (flock(2) via Python, so it also works where the `flock` command is missing; the
# kernel drops the lock when its holder exits, so a killed build leaves no stale lock).
set -euo pipefail

PULUMI_VERSION="${PULUMI_ENGINE_VERSION:-3.274.1}"
MIN_VERSION="${PULUMI_MIN_VERSION:-3.200.0}"
CACHE_ROOT="${DOMO_VERSIONS_IAC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/domo-versions-iac}"
ENGINE_DIR="$CACHE_ROOT/pulumi-v$PULUMI_VERSION"
BIN_DIR="$ENGINE_DIR/bin"
LOCK_FILE="$ENGINE_DIR.lock"
LOCK_WAIT="${PULUMI_ENGINE_LOCK_WAIT:-1800}" # seconds; a cold build takes ~10 min on 2 cores
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "[engine] $*" >&2; }
fail() { echo "[engine] ERROR: $*" >&2; exit 1; }

version_ge() { # version_ge A B: A >= B (dotted numeric)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

engine_works() { # engine_works DIR: the CLI and the provider helper are there and run
  local dir="$1"
  [ -x "$dir/pulumi" ] && [ -x "$dir/pulumi-resource-pulumi-python" ] \
    && "$dir/pulumi" version >/dev/null 2>&1
}

install_language_host() { # the stand-in host comes from the checkout: refresh it every run
  local dir="$1" f
  for f in pulumi-language-python pulumi_language_python_shim.py; do
    # A copy then a rename: an engine running from this cache meanwhile sees the old
    # file or the new one, never half of one.
    cmp -s "$HERE/$f" "$dir/$f" || { install -m 0755 "$HERE/$f" "$dir/.$f.new.$$" \
      && mv -f "$dir/.$f.new.$$" "$dir/$f"; }
  done
}

# 1. A pulumi already on PATH, new enough, with the Python helpers beside it.
if [ -z "${PULUMI_FORCE_BUILD:-}" ] && command -v pulumi >/dev/null 2>&1; then
  onpath="$(dirname "$(command -v pulumi)")"
  have="$(pulumi version 2>/dev/null | sed 's/^v//')"
  if [ -n "$have" ] && version_ge "${have%%-*}" "$MIN_VERSION" && [ "$onpath" != "$BIN_DIR" ] \
     && [ -x "$onpath/pulumi-resource-pulumi-python" ]; then
    say "using pulumi v$have from $onpath"
    echo "$onpath"
    exit 0
  fi
fi

take_build_lock() { # hold $LOCK_FILE (on fd 9) until this script exits; wait at most $LOCK_WAIT s
  mkdir -p "$CACHE_ROOT"
  exec 9>>"$LOCK_FILE"
  python3 - "$LOCK_FILE" "$LOCK_WAIT" <<'PY' || exit 1
import fcntl, sys, time
path, wait = sys.argv[1], float(sys.argv[2])
def try_lock():
    try:
        fcntl.flock(9, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fd 9 is shared with the script
        return True
    except BlockingIOError:
        return False
if not try_lock():
    print(f"[engine] another run is building the engine (lock {path}); "
          f"waiting up to {wait:.0f} s for it", file=sys.stderr, flush=True)
    for _ in range(int(wait * 2)):
        time.sleep(0.5)
        if try_lock():
            break
    else:
        print(f"[engine] ERROR: gave up after {wait:.0f} s waiting for {path}: another build "
              "still holds it. Wait for it to finish (or stop it) and re-run; set "
              "PULUMI_ENGINE_LOCK_WAIT=<seconds> to wait longer.", file=sys.stderr)
        sys.exit(1)
PY
}

# 2. A cached build of the pinned version (under the lock: a build may be under way).
take_build_lock
if engine_works "$BIN_DIR"; then
  install_language_host "$BIN_DIR"
  echo "$BIN_DIR"
  exit 0
fi

# 3. Build it.
say "no usable pulumi >= $MIN_VERSION found; building v$PULUMI_VERSION into $ENGINE_DIR"
command -v go >/dev/null 2>&1 || fail "Go is not installed. Install Go >= 1.22 (https://go.dev/dl/) or install the Pulumi CLI (https://www.pulumi.com/docs/install/) and re-run."
GO_VERSION="$(go env GOVERSION | sed 's/^go//')"
version_ge "$GO_VERSION" "1.22" || fail "Go $GO_VERSION is too old to build Pulumi; Go >= 1.22 is needed (newer toolchains are fetched automatically when GOTOOLCHAIN allows)."

export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
rm -rf "$ENGINE_DIR.tmp"
WORK="$ENGINE_DIR.tmp/src"
mkdir -p "$WORK" "$ENGINE_DIR.tmp/bin"
cd "$WORK"

say "reading github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION from the Go module proxy"
if ! go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" > pkg.json 2> download.err; then
  cat download.err >&2
  fail "cannot download the Pulumi Go modules. Check network access to the Go module proxy ($(go env GOPROXY)) or install the Pulumi CLI and re-run."
fi
if ! go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" > sdk.json 2> download.err; then
  cat download.err >&2
  fail "cannot download github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION from the Go module proxy."
fi
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
PKG_GOMOD="$(json_field pkg.json GoMod)"
SDK_DIR="$(json_field sdk.json Dir)"

cat > go.mod <<GOMOD
module domo-versions-iac/pulumi-engine

go $(sed -n 's/^go //p' "$PKG_GOMOD")

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)
GOMOD
# Copy pkg's non-local replace directives (local ones point into the pulumi repo).
grep -E '^replace ' "$PKG_GOMOD" | grep -v '=> \.' >> go.mod || true
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO

say "resolving dependencies (hundreds of modules; a few minutes on a cold cache)"
go mod tidy >&2 || fail "go mod tidy failed (see above). A newer Go may be needed: set GOTOOLCHAIN=auto."
say "compiling the pulumi CLI (several minutes on 2 cores)"
go build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
  -o "$ENGINE_DIR.tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2 \
  || fail "go build of the pulumi CLI failed (see above)."

# The engine execs this script to run every Python dynamic provider.
install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$ENGINE_DIR.tmp/bin/"
# The Python language host's Go module is not served by the module proxy; ours is a
# small stand-in built on the Python SDK's own language server (see the script).
install_language_host "$ENGINE_DIR.tmp/bin"

rm -rf "$ENGINE_DIR"
mv "$ENGINE_DIR.tmp/bin" "$ENGINE_DIR.tmp/bin.done"
mkdir -p "$ENGINE_DIR"
mv "$ENGINE_DIR.tmp/bin.done" "$BIN_DIR"
rm -rf "$ENGINE_DIR.tmp"
engine_works "$BIN_DIR" || fail "the built engine in $BIN_DIR does not run."
say "built pulumi $("$BIN_DIR/pulumi" version) in $BIN_DIR"
echo "$BIN_DIR"
