#!/usr/bin/env bash
# Runs every check of the project: formatting, clippy with warnings denied, and all tests, with
# the PostgreSQL server the storage conformance suite needs (installed and started if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# PostgreSQL: use a running server on 127.0.0.1:5432, start an installed one, or install one.
pg_up() { command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  log "starting PostgreSQL"
  for v in /etc/postgresql/*; do pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true; done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  # A fresh Debian cluster asks for a password over TCP: give the superuser one for the tests.
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'otklik-test'\"" >/dev/null
  export PGPASSWORD=otklik-test
  export OTKLIK_TEST_PG="postgres://postgres:otklik-test@127.0.0.1:5432/postgres"
else
  export OTKLIK_TEST_PG="postgres://postgres@127.0.0.1:5432/postgres"
fi
# Databases left by earlier runs of the conformance suite.
psql -h 127.0.0.1 -U postgres -d postgres -Atc \
  "select datname from pg_database where datname like 'otklik_test_%'" 2>/dev/null |
  while read -r db; do psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $db" >/dev/null 2>&1 || true; done

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "cargo test"
cargo test --all-targets --locked
./scripts/e2e.sh
