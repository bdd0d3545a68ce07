#!/usr/bin/env bash
# The README's test command: installs and starts what the tests need, then runs `cargo test`
# with this script's arguments (`bash scripts/test.sh --test integration quotas::`).
# Works on a fresh machine of this kind (Debian, root) and is idempotent: each step checks
# first and skips what is present, so later runs only run the tests. `.ci/run` calls it too.
#
#   bash scripts/test.sh [CARGO TEST ARGS...]   set up, then cargo test
#   bash scripts/test.sh --setup-only           set up only
#
# One need is one call at the bottom of this file:
#   apt_step  TITLE "PATH..." PACKAGE...         Debian packages, unless every PATH exists
#   cargo_step TITLE COMMAND CRATE [ARGS...]     `cargo install CRATE ARGS` unless COMMAND runs
#   npm_step  TITLE PACKAGE@VERSION              into tests/tools/node_modules (NODE_PATH is set)
#   pip_step  TITLE PACKAGE==VERSION             into the virtualenv tests/tools/venv (on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$(pwd)"
tools="$repo_root/tests/tools"

step() { printf '\n==> %s\n' "$*"; }
skip() { printf '    present: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: apt-get install $* needs root (or install it yourself)" >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    echo "    apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  echo "    apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# apt_step TITLE "PATH..." PACKAGE...: installs the packages unless every path exists.
apt_step() {
  local title=$1 paths=$2 missing=0 p
  shift 2
  step "$title"
  for p in $paths; do [ -e "$p" ] || missing=1; done
  if [ "$missing" = 0 ]; then skip "$paths"; return; fi
  apt_install "$@"
}

# cargo_step TITLE COMMAND CRATE [ARGS...]: `cargo install CRATE ARGS...` unless COMMAND exists.
cargo_step() {
  local title=$1 command=$2
  shift 2
  step "$title"
  if have "$command"; then skip "$(command -v "$command")"; return; fi
  echo "    cargo install $*"
  cargo install --quiet --locked "$@"
}

# npm_step TITLE PACKAGE@VERSION: installs a Node.js package for the tests into tests/tools.
npm_step() {
  local title=$1 spec=$2
  step "$title"
  have npm || apt_install npm
  local name="${spec%@*}" version="${spec##*@}"
  local manifest="$tools/node_modules/$name/package.json"
  if [ -f "$manifest" ] && grep -q "\"version\": *\"$version\"" "$manifest"; then
    skip "$spec"
    return
  fi
  mkdir -p "$tools"
  echo "    npm install $spec"
  npm install --silent --no-audit --no-fund --prefix "$tools" "$spec" >/dev/null
}

# pip_step TITLE PACKAGE==VERSION: installs a Python package for the tests into a virtualenv.
pip_step() {
  local title=$1 spec=$2
  step "$title"
  local venv="$tools/venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "    python3 -m venv $venv"
    python3 -m venv "$venv"
  fi
  if "$venv/bin/pip" show -q "${spec%%==*}" 2>/dev/null \
    && [ "$("$venv/bin/pip" show "${spec%%==*}" | sed -n 's/^Version: //p')" = "${spec##*==}" ]; then
    skip "$spec"
    return
  fi
  echo "    pip install $spec"
  "$venv/bin/pip" install --quiet "$spec"
}

# PostgreSQL on 127.0.0.1:5432, reachable as the superuser postgres without a password.
postgres_step() {
  step "PostgreSQL on 127.0.0.1:5432, superuser postgres trusted on loopback"
  local version
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if ! have pg_ctlcluster || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
      apt_install postgresql
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "    starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null
  # A cluster freshly installed by Debian asks for a password on loopback (scram-sha-256);
  # the tests and the README's commands connect as postgres without one.
  if ! psql -h 127.0.0.1 -U postgres -Atqc 'SELECT 1' >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    echo "    trusting loopback connections in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    sleep 1
  fi
  echo "    $(psql -h 127.0.0.1 -U postgres -Atc 'SELECT version()')"
}

graphiql_assets_step() {
  step "GraphiQL assets (pinned versions from the npm registry; tests/integration/graphiql_browser.rs)"
  have npm || apt_install npm
  bash scripts/fetch-graphiql-assets.sh | sed 's/^/    /'
}

setup_only=0
if [ "${1:-}" = "--setup-only" ]; then
  setup_only=1
  shift
fi

postgres_step
apt_step "PgBouncer (tests/integration/pgbouncer.rs)" /usr/sbin/pgbouncer pgbouncer
apt_step "Chromium and chromedriver (tests/integration/graphiql_browser.rs)" \
  "/usr/bin/chromium /usr/bin/chromedriver" chromium chromium-driver
if ! have diesel && [ ! -e /usr/include/postgresql/libpq-fe.h ]; then
  apt_step "libpq headers (to build the diesel CLI)" /usr/include/postgresql/libpq-fe.h libpq-dev
fi
cargo_step "diesel CLI (the schema.rs drift check of .ci/run)" diesel \
  diesel_cli --version '^2.3' --no-default-features --features postgres
graphiql_assets_step
# TypeScript types of the contract operations (tests/integration/contract_types.rs).
npm_step "graphql (for graphql-codegen)" graphql@16.15.0
npm_step "TypeScript (tsc --strict of clients/typescript)" typescript@5.9.3
npm_step "graphql-codegen CLI" @graphql-codegen/cli@7.4.3
npm_step "graphql-codegen typescript-operations plugin" @graphql-codegen/typescript-operations@6.1.9
pip_step "aiosmtpd, the SMTP server of tests/integration/mail.rs (tests/tools/smtp_sink.py)" aiosmtpd==1.4.6
npm_step "OpenID Provider for the SSO tests (tests/idp/provider.mjs)" oidc-provider@9.13.3
npm_step "OpenID Connect relying party for the OAuth tests (tests/rp/openid_client.mjs)" openid-client@6.8.9

# Test tools installed by npm_step/pip_step are found through these.
export NODE_PATH="$tools/node_modules${NODE_PATH:+:$NODE_PATH}"
[ -d "$tools/venv/bin" ] && export PATH="$tools/venv/bin:$PATH"

if [ "$setup_only" = 1 ]; then
  step "set-up done"
  exit 0
fi
step "cargo test $*"
exec cargo test "$@"
