#!/usr/bin/env bash
# Runs pytest and fails loudly when it collected nothing (pytest's exit code 5), which would
# otherwise let a broken test selection pass as green.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
uv run pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests for: $*; that is a failure, not a pass" >&2
    exit 1
fi
exit "$rc"
