#!/usr/bin/env bash
# The whole test suite, setup included: installs what the tests need when it is
# missing (Debian's redis-server, redis-sentinel, redis-tools, nodejs/npm; PyPI's redis;
# npm's ioredis under target/node), then runs
# the Rust unit and integration tests and the Python client tests.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null || need_apt+=(redis-sentinel)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The packaged redis-server starts a system instance on 6379; tests use their own ports.
python3 -c 'import redis, sys; sys.exit(0 if int(redis.__version__.split(".")[0]) >= 5 else 1)' 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check 'redis>=5'
# ioredis for the Node.js client test (tests/discovery_clients.rs), kept out of the tree.
if [ ! -d target/node/node_modules/ioredis ]; then
  mkdir -p target/node
  npm install --prefix target/node --no-package-lock --no-save --no-audit --no-fund --silent ioredis@5
fi

export RUST_BACKTRACE=1
cargo build --all-targets
cargo test --all-targets -- --test-threads=2
