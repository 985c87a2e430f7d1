#!/usr/bin/env bash
# make demo: start the cowweb sample app (with a deadlock to find), run jps, flags and
# threaddump against it through `jdebug run` like a user in Slack would, then stop the app,
# even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${JDEBUG_CACHE:-$HOME/.cache/jdebug}"
java="$cache/jdk/11/bin/java"
log="$(mktemp -t cowweb-demo.XXXXXX.log)"

"$java" -Xmx64m -jar build/cowweb/cowweb.jar --port 0 --deadlock >"$log" 2>&1 &
app=$!
trap 'kill "$app" 2>/dev/null; wait "$app" 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 100); do
    grep -q "cowweb listening" "$log" && break
    kill -0 "$app" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
echo "== $(head -n 1 "$log") (pid $app, JVM 11)"

status=0
for cmd in "jps" "flags pod=cowweb" "threaddump pod=cowweb"; do
    echo
    echo "\$ jdebug run \"$cmd\""
    uv run --quiet jdebug run "$cmd" || status=$?
done
exit "$status"
