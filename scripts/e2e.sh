#!/usr/bin/env bash
# Runs the end-to-end browser tests (e2e/): Debian's chromium driven by playwright-core against a
# real `otklik serve`. Installs chromium with apt if missing; never downloads a browser build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

log() { printf '==> %s\n' "$*" >&2; }

export CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM_BIN ]]; then
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
# Debian's wrapper script prints a harmless shell warning on some machines: keep only the version.
log "$("$CHROMIUM_BIN" --version 2>/dev/null)"

# The server: OTKLIK_BIN as given, else target/debug/otklik (which `cargo test` builds; under
# CARGO_TARGET_DIR if set), built or rebuilt only when missing or older than the sources.
if [[ -z ${OTKLIK_BIN:-} ]]; then
  export OTKLIK_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/otklik
  if [[ ! -x $OTKLIK_BIN ]] ||
    [[ -n $(find crates data/reference data/calendar data/models data/demo Cargo.toml Cargo.lock \
      -newer "$OTKLIK_BIN" -type f -print -quit 2>/dev/null) ]]; then
    log "building the server (debug)"
    cargo build --locked --bin otklik
  fi
fi
[[ -x $OTKLIK_BIN ]] || { log "no server binary at $OTKLIK_BIN"; exit 1; }

cd e2e
log "npm ci"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

log "e2e tests"
mkdir -p artifacts
rm -f artifacts/*.png artifacts/results.tap
status=0
# Human-readable results on stdout; TAP in a file, whose summary ("# pass N", "# fail N") is printed.
timeout 600 node --test --test-concurrency=1 --test-timeout=60000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=artifacts/results.tap \
  tests/ || status=$?
grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' artifacts/results.tap || true
log "screenshots in e2e/artifacts/"
exit "$status"
