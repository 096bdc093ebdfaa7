#!/usr/bin/env bash
# Installs what the example tests need beyond Rust, Python 3 and Flask. Safe to run twice.
set -euo pipefail
