#!/usr/bin/env bash
# make demo: start kubesim (a one-node Kubernetes API whose pods are real namespaced
# processes) with the seed's cowweb pod, then run jps, flags and threaddump against it with
# `jdebug run`, as the jdebug ServiceAccount, exactly as a user would type them in Slack.
# kubesim and every pod it started are stopped on exit, even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d -t jdebug-demo.XXXXXX)"
uv run --quiet python -m kubesim serve \
    --manifests examples/demo/cluster.yaml deploy/base/rbac.yaml \
    --kubeconfig-out "$work/admin.yaml" --service-account-kubeconfigs "$work/sa" \
    >"$work/kubesim.log" 2>&1 &
sim=$!
trap 'kill -TERM "$sim" 2>/dev/null; wait "$sim" 2>/dev/null; rm -rf "$work"' EXIT

bot="$work/sa/jdebug_jdebug.yaml"
admin=(kubectl --kubeconfig "$work/admin.yaml")
for _ in $(seq 300); do
    if [ -f "$bot" ] \
        && [ "$("${admin[@]}" get pod cowweb -o 'jsonpath={.status.phase}' 2>/dev/null)" = Running ] \
        && [ "$("${admin[@]}" -n secure get pod cowweb -o 'jsonpath={.status.phase}' 2>/dev/null)" = Running ]; then
        break
    fi
    kill -0 "$sim" 2>/dev/null || { cat "$work/kubesim.log"; exit 1; }
    sleep 0.1
done
echo "== kubesim is up; the pods, as kubectl sees them:"
"${admin[@]}" get pods -A

# The pod as etcd stores it: compact JSON.
pod_bytes() {
    "${admin[@]}" get pod cowweb -o json \
        | uv run --quiet python -c 'import json, sys; print(len(json.dumps(json.load(sys.stdin), separators=(",", ":"))))'
}
before=$(pod_bytes)
status=0
# kubesim models image pulls (25 MB/s after 0.5 s). A debug container starts from the app's
# own image, which the node already has, so even the first command pulls nothing; the pulls
# listed below are the app pods' own.
for cmd in "jps pod=cowweb" "flags pod=cowweb" "threaddump pod=cowweb" "threaddump pod=cowweb ns=secure"; do
    echo
    echo "\$ jdebug run \"$cmd\""
    started=$(($(date +%s%N) / 1000000))
    uv run --quiet jdebug run --kubeconfig "$bot" "$cmd" || status=$?
    took=$(($(date +%s%N) / 1000000 - started))
    printf '(took %d.%d s)\n' $((took / 1000)) $((took % 1000 / 100))
done
echo
echo "== the node's image pulls, as the kubelet recorded them:"
"${admin[@]}" get events -A --field-selector reason=Pulled -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}'
echo
echo "== the debug containers afterwards (ephemeral containers cannot be removed; they ended):"
"${admin[@]}" get pod cowweb -o 'jsonpath={range .status.ephemeralContainerStatuses[*]}{.name}{"\t"}{.state.terminated.reason}{" exit "}{.state.terminated.exitCode}{"\n"}{end}'
after=$(pod_bytes)
containers=$("${admin[@]}" get pod cowweb -o 'jsonpath={range .spec.ephemeralContainers[*]}{.name}{"\n"}{end}' | grep -c . || true)
echo
echo "== what stays in the pod object: $before -> $after bytes ($containers debug containers, about $(((after - before) / (containers > 0 ? containers : 1))) bytes each; etcd takes 1,572,864)"
exit "$status"
