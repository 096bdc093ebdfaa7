#!/usr/bin/env bash
# Installs what the tests need beyond Rust and Python 3: Flask, datasette, Node.js. Safe to run
# twice; installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Flask, for the Flask app of the runtime tests and the examples.
python3 -c 'import flask' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check flask

# datasette, for tests/tests/example_datasette.rs, in a virtualenv of its own under target/
# (which git ignores), so that it neither needs nor touches the system's Python packages.
DATASETTE_VERSION=0.65.5
venv=target/example-venv
if [ "$("$venv/bin/datasette" --version 2>/dev/null)" != "datasette, version $DATASETTE_VERSION" ]; then
    echo "installing datasette $DATASETTE_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "datasette==$DATASETTE_VERSION"
fi
"$venv/bin/datasette" --version

# node, for tests/tests/example_node.rs: the machine usually has it; a Debian-based one
# without it gets Debian's package.
if ! command -v node >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing node"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
fi
node --version
