#!/bin/sh
# jdebug in-container agent: find the JVM, become its uid/gid, run the JDK tool, frame output.
#
# Run as: sh -c "$AGENT" jdebug-agent -n NONCE [-p PID] [-m MATCH] [-c CGROUP] [-d SECONDS]
#                                     [-t TOOL] [STEP...]
#   MATCH: text the JVM's command line must contain. CGROUP: text its /proc/PID/cgroup must
#   contain (a container ID, from a node-level debug pod). TOOL: auto (jdebug-attach, else
#   jattach, else jcmd), jdebug-attach, jattach or jcmd.
#   STEP is one of
#     jcmd:NAME:COMMAND LINE   a diagnostic command (e.g. `jcmd:threaddump.1:Thread.print -l`);
#                              `@FILE.EXT@` in it is this run's own file in the JVM's /tmp
#     fetch:NAME:EXT:ENC       that file's content as step NAME (ENC text or base64, or vthreads:
#                              text, but empty when it holds no virtual thread), then
#                              removed; it is removed at exit on every path too
#     `jcmd?:` and `fetch?:`   the same, optional: their failure does not fail the run
#     snippet:NAME:KIND        a fixed snippet run against the JVM's pid (KIND sample or
#                              perfdata: $jdebug_snippet_KIND, prepended by agent.py)
#     put:EXT:BASE64           write jdebug's own data to this run's file in the JVM's /tmp
#     guard:jfr                fail (11) when a jdebug recording runs already; else remove the
#                              /tmp/jdebug-*.jfr files earlier runs left (over 10 minutes old)
#     sleep:N
# User values arrive only as argv; nothing here is ever evaluated as shell text.
# Every run prints a `jvms` frame (one line per JVM: pid, uid, gid, nspid, command line),
# then one frame per step:
#   @@jdebug:NONCE begin step=NAME pid=PID tool=TOOL
#   ...the tool's output, its own header lines removed...
#   @@jdebug:NONCE end step=NAME pid=PID rc=RC
# Agent-level failures print `@@jdebug:NONCE fail rc=RC MESSAGE` and exit with RC:
#   2 usage, 3 no such JVM, 4 several JVMs match, 5 identity mismatch, 6 a tool failed,
#   7 no attach tool, 8 attach disabled, 9 target /tmp read-only, 10 JVM not ready,
#   11 a jdebug recording already runs, 12 a file step failed, 124 deadline.

# The snippets' code, prepended as variable assignments by agent.py (fixed package data).
: "${jdebug_snippet_sample:=}" "${jdebug_snippet_perfdata:=}"

nonce=x
want_pid=
match=
cgroup=
deadline_s=60
prefer=auto

mark() { printf '@@jdebug:%s %s\n' "$nonce" "$*"; }
fail() {
    rc=$1
    shift
    mark "fail rc=$rc $*"
    exit "$rc"
}

while getopts n:p:m:c:d:t: opt; do
    case $opt in
        n) nonce=$OPTARG ;;
        p) want_pid=$OPTARG ;;
        m) match=$OPTARG ;;
        c) cgroup=$OPTARG ;;
        d) deadline_s=$OPTARG ;;
        t) prefer=$OPTARG ;;
        *) fail 2 "usage: jdebug-agent -n NONCE [-p PID] [-m MATCH] [-c CGROUP] [-d SECONDS] [-t TOOL] [STEP...]" ;;
    esac
done
shift $((OPTIND - 1))

case $want_pid in *[!0-9]*) fail 2 "pid must be a number, got '$want_pid'" ;; esac
case $deadline_s in '' | *[!0-9]*) fail 2 "deadline must be whole seconds, got '$deadline_s'" ;; esac
case $prefer in auto | jdebug-attach | jattach | jcmd) ;; *) fail 2 "tool must be auto, jdebug-attach, jattach or jcmd, got '$prefer'" ;; esac
ends_at=$(($(date +%s) + deadline_s))

# Seconds left before the deadline; fails the run (in this shell, not a subshell) at 0.
remaining() {
    left=$((ends_at - $(date +%s)))
    [ "$left" -gt 0 ] || fail 124 "the agent's deadline of ${deadline_s}s passed"
}

# status_field PID KEY INDEX: the INDEX-th value of "KEY:" in /proc/PID/status.
status_field() {
    while read -r key a b c d; do
        if [ "$key" = "$2:" ]; then
            case $3 in 1) echo "$a" ;; 2) echo "$b" ;; 3) echo "$c" ;; 4) echo "$d" ;; esac
            return 0
        fi
    done <"/proc/$1/status"
    return 1
}

# The last NSpid field is the pid inside the JVM's own namespace: it names the socket.
ns_pid() {
    last=$1
    while read -r key rest; do
        if [ "$key" = "NSpid:" ]; then
            for p in $rest; do last=$p; done
        fi
    done <"/proc/$1/status"
    echo "$last"
}

command_line() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

# A JVM is a process whose name (comm) is `java`, the launcher's; read with a shell builtin,
# so scanning a node's hundreds of processes forks nothing for the non-JVMs. A custom
# launcher counts only when asked for by pid and it maps libjvm.so. JDK tools launched
# through `java` are never a target.
is_jvm() {
    comm=
    read -r comm 2>/dev/null <"/proc/$1/comm" || return 1
    if [ "$comm" != java ]; then
        [ "$1" = "$want_pid" ] || return 1
        grep -q 'libjvm\.so' "/proc/$1/maps" 2>/dev/null || return 1
    fi
    case $(command_line "$1") in
        *sun.tools.jcmd.JCmd* | *sun.tools.jps.Jps*) return 1 ;;
    esac
    return 0
}

# Keep a listed JVM when it matches MATCH and CGROUP; print its line again.
keep_jvm() {
    if [ -n "$match" ]; then
        case $5 in *"$match"*) ;; *) return 0 ;; esac
    fi
    if [ -n "$cgroup" ]; then
        grep -qF -e "$cgroup" "/proc/$1/cgroup" 2>/dev/null || return 0
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$@"
}

list_jvms() {
    # jdebug-attach also knows JVMs whose launcher is not named java (jsvc, rmiregistry,
    # install4j's) by HotSpot's perf file or a mapped libjvm.so, forking nothing per process.
    if [ -z "$want_pid" ] && command -v jdebug-attach >/dev/null 2>&1 \
        && listed=$(jdebug-attach -t 10 list 2>/dev/null); then
        tab=$(printf '\t')
        printf '%s\n' "$listed" | while IFS=$tab read -r l_pid l_uid l_gid l_nspid l_cmd; do
            [ -n "$l_pid" ] || continue
            keep_jvm "$l_pid" "$l_uid" "$l_gid" "$l_nspid" "$l_cmd"
        done
        return 0
    fi
    # With a pid asked for, only that process is looked at.
    if [ -n "$want_pid" ]; then
        set -- "/proc/$want_pid"
    else
        set -- /proc/[0-9]*
    fi
    for dir in "$@"; do
        pid=${dir#/proc/}
        [ "$pid" = "$$" ] && continue
        is_jvm "$pid" || continue
        cmd=$(command_line "$pid")
        [ -n "$cmd" ] || continue
        if [ -n "$match" ]; then
            case $cmd in *"$match"*) ;; *) continue ;; esac
        fi
        if [ -n "$cgroup" ]; then
            grep -qF -e "$cgroup" "/proc/$pid/cgroup" 2>/dev/null || continue
        fi
        uid=$(status_field "$pid" Uid 2) || continue
        gid=$(status_field "$pid" Gid 2) || continue
        printf '%s\t%s\t%s\t%s\t%s\n' "$pid" "$uid" "$gid" "$(ns_pid "$pid")" "$cmd"
    done
}

mark "begin step=jvms pid=- tool=proc"
jvms=$(list_jvms)
[ -n "$jvms" ] && printf '%s\n' "$jvms"
mark "end step=jvms pid=- rc=0"

[ $# -gt 0 ] || exit 0

# Pick the target: the pid asked for, or the only JVM found.
if [ -n "$want_pid" ]; then
    [ -d "/proc/$want_pid" ] || fail 3 "no process with pid $want_pid is visible here"
    printf '%s\n' "$jvms" | cut -f 1 | grep -qx "$want_pid" \
        || fail 3 "pid $want_pid is not a JVM (or does not match '$match')"
    pid=$want_pid
else
    count=$(printf '%s\n' "$jvms" | grep -c .)
    matching=
    [ -z "$match" ] || matching=" matching '$match'"
    [ -z "$cgroup" ] || matching="$matching in container $cgroup"
    [ "$count" -gt 0 ] || fail 3 "no JVM is running here$matching"
    [ "$count" -eq 1 ] || fail 4 "$count JVMs match; pick one with pid=N (see the jvms list)"
    pid=$(printf '%s\n' "$jvms" | cut -f 1)
fi

case " $(command_line "$pid") " in
    *" -XX:+DisableAttachMechanism "*)
        fail 8 "the JVM (pid $pid) runs with -XX:+DisableAttachMechanism, so no JDK tool can attach; remove that flag and restart it to diagnose it" ;;
esac

# Become the JVM's uid and gid: HotSpot only answers its own euid/egid (or root), and the
# kernel lets a same-uid caller without extra capabilities into /proc/PID/root.
tuid=$(status_field "$pid" Uid 2)
tgid=$(status_field "$pid" Gid 2)
myuid=$(id -u)
mygid=$(id -g)
runner=
helper=
if [ "$prefer" = auto ] || [ "$prefer" = jdebug-attach ]; then
    command -v jdebug-attach >/dev/null 2>&1 && helper=yes
fi
# setpriv as util-linux has it (busybox's applet has no --reuid).
setpriv_works() { setpriv --reuid="$tuid" --regid="$tgid" --clear-groups true >/dev/null 2>&1; }
if [ -n "$helper" ]; then
    # jdebug-attach becomes the JVM's uid/gid itself, and runs the snippets and file steps
    # as that uid too (`jdebug-attach as PID`), where the image has no util-linux setpriv.
    if [ "$myuid" = 0 ] && { [ "$tuid" != 0 ] || [ "$tgid" != 0 ]; }; then
        if setpriv_works; then
            runner="setpriv --reuid=$tuid --regid=$tgid --clear-groups"
        else
            runner="jdebug-attach as $pid"
        fi
    fi
elif [ "$myuid" = 0 ]; then
    if [ "$tuid" != 0 ] || [ "$tgid" != 0 ]; then
        if command -v setpriv >/dev/null 2>&1; then
            runner="setpriv --reuid=$tuid --regid=$tgid --clear-groups"
        elif ! command -v jattach >/dev/null 2>&1; then
            fail 5 "the JVM (pid $pid) runs as uid $tuid gid $tgid and this image has neither setpriv nor jattach to switch to it; run the debug container as runAsUser: $tuid, runAsGroup: $tgid"
        fi
    fi
elif [ "$myuid" != "$tuid" ] || [ "$mygid" != "$tgid" ]; then
    fail 5 "the JVM (pid $pid) runs as uid $tuid gid $tgid but this debug process runs as uid $myuid gid $mygid; run it as runAsUser: $tuid, runAsGroup: $tgid"
fi

tool=
if [ -n "$helper" ]; then
    tool=jdebug-attach
elif [ "$prefer" != jcmd ] && [ "$prefer" != jdebug-attach ] && command -v jattach >/dev/null 2>&1; then
    tool=jattach
elif [ "$prefer" = auto ] || [ "$prefer" = jcmd ]; then
    if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/jcmd" ]; then
        PATH="$JAVA_HOME/bin:$PATH"
    fi
    command -v jcmd >/dev/null 2>&1 && tool=jcmd
fi
[ -n "$tool" ] || fail 7 "this image has no ${prefer#auto} attach tool (none of jdebug-attach, jattach, jcmd); use jdebug's debug image (deploy/debug-image/) or a JDK image for the debug container"

# Before the first attach, make sure the handshake can work: attaching to a JVM whose /tmp
# is read-only, or that does not handle SIGQUIT yet, only makes it print a thread dump into
# the app's log (or kills a JVM that is still starting).
nspid=$(ns_pid "$pid")
created_trigger=
# shellcheck disable=SC2086
if [ "$tool" = jdebug-attach ]; then
    : # the helper checks the handshake, and creates and removes the trigger, itself
elif [ ! -S "/proc/$pid/root/tmp/.java_pid$nspid" ] && ! $runner test -S "/proc/$pid/root/tmp/.java_pid$nspid"; then
    # shellcheck disable=SC2086
    if ! $runner test -w "/proc/$pid/root/tmp"; then
        fail 9 "the JVM's /tmp is read-only (or not reachable), so the attach handshake cannot create its socket; mount an emptyDir at /tmp in the app container"
    fi
    sigcgt=$(status_field "$pid" SigCgt 1)
    last2=${sigcgt#"${sigcgt%??}"}
    if [ $((0x$last2 & 4)) -eq 0 ]; then
        fail 10 "the JVM (pid $pid) does not handle SIGQUIT yet (it may still be starting); try again in a few seconds"
    fi
    created_trigger=yes
fi

# This run's files in the JVM's /tmp (JSON thread dumps, recordings): its nonce names them.
own_file() { printf '/tmp/jdebug-%s.%s' "$nonce" "$1"; }
# Read or remove a file under the JVM's root as the JVM's uid.
# shellcheck disable=SC2086
read_jvm_file() { $runner cat "/proc/$pid/root$1"; }
# shellcheck disable=SC2086
remove_jvm_file() {
    $runner rm -f "/proc/$pid/root$1" 2>/dev/null
    return 0
}
made_files=

# jcmd leaves its .attach_pid trigger file behind; remove ours when we started the listener.
# shellcheck disable=SC2086,SC2317
cleanup() {
    for ext in $made_files; do remove_jvm_file "$(own_file "$ext")"; done
    [ -n "$created_trigger" ] || return 0
    $runner rm -f "/proc/$pid/cwd/.attach_pid$nspid" "/proc/$pid/root/tmp/.attach_pid$nspid" 2>/dev/null
    return 0
}
trap cleanup EXIT

# Put the trigger where the JVM looks for it (its own /tmp) before any tool runs. jcmd before
# JDK 25, sharing the JVM's PID namespace but not its mounts (an ephemeral container), writes
# it into its own cwd or /tmp instead (JDK-8327114): the JVM then only prints a thread dump
# into the app's log, never starts listening, and the attach times out as if it were hung.
if [ -n "$created_trigger" ]; then
    # shellcheck disable=SC2086,SC2016
    $runner /bin/sh -c ': >"$1"' jdebug-trigger "/proc/$pid/root/tmp/.attach_pid$nspid" 2>/dev/null || true
fi

# Each frame's text ends with a newline, so the end marker starts a line of its own.
strip_header() {
    if [ "$tool" = jdebug-attach ]; then
        awk '{ print }'
    elif [ "$tool" = jattach ]; then
        awk 'NR <= 2 && (/^Connected to remote JVM$/ || /^JVM response code = /) { next } { print }'
    else
        awk 'NR == 1 && /^[0-9]+:$/ { next } { print }'
    fi
}

# $runner is empty or a fixed setpriv command: word splitting is intended there.
# shellcheck disable=SC2086
run_tool() {
    if [ "$tool" = jdebug-attach ]; then
        jdebug-attach -t "$1" jcmd "$pid" "$2"
    elif [ "$tool" = jattach ]; then
        timeout -k 2 "$1" $runner jattach "$pid" jcmd "$2"
    else
        timeout -k 2 "$1" $runner jcmd "$pid" "$2"
    fi
}

# A fetched file as frame text: bytes as base64, text with a final newline.
encode() { if [ "$1" = base64 ]; then base64; else awk '{ print }'; fi; }

status=0
exec 4>&1
for step in "$@"; do
    case $step in
        sleep:*)
            secs=${step#sleep:}
            case $secs in '' | *[!0-9]*) fail 2 "bad step '$step'" ;; esac
            remaining
            [ "$secs" -lt "$left" ] || fail 124 "the agent's deadline of ${deadline_s}s would pass during the ${secs}s pause before the next step; ask for fewer dumps or a shorter interval"
            sleep "$secs"
            ;;
        jcmd:*:* | 'jcmd?:'*:*)
            optional=
            case $step in 'jcmd?:'*) optional=yes ;; esac
            rest=${step#jcmd:}
            rest=${rest#jcmd?:}
            name=${rest%%:*}
            line=${rest#*:}
            case $line in *@NONCE@*) line="${line%%@NONCE@*}$nonce${line#*@NONCE@}" ;; esac
            while :; do
                case $line in *@FILE.*@*) ;; *) break ;; esac
                ext=${line#*@FILE.}
                ext=${ext%%@*}
                case $ext in '' | *[!a-z]*) fail 2 "bad file extension in step '$step'" ;; esac
                made_files="$made_files $ext"
                line="${line%%@FILE."$ext"@*}$(own_file "$ext")${line#*@FILE."$ext"@}"
            done
            remaining
            mark "begin step=$name pid=$pid tool=$tool"
            rc=$({ { run_tool "$left" "$line" 2>&1; echo $? >&3; } | strip_header >&4; } 3>&1)
            mark "end step=$name pid=$pid rc=$rc"
            [ "$rc" = 124 ] && fail 124 "the JVM (pid $pid) did not answer $name within the agent's deadline of ${deadline_s}s: it may be hung or stuck in a long safepoint (such as a long GC pause); check its CPU use and GC log, and try again once it responds"
            [ "$rc" = 0 ] || [ -n "$optional" ] || status=6
            ;;
        fetch:*:*:* | 'fetch?:'*:*:*)
            optional=
            case $step in 'fetch?:'*) optional=yes ;; esac
            rest=${step#fetch:}
            rest=${rest#fetch?:}
            name=${rest%%:*}
            rest=${rest#*:}
            ext=${rest%%:*}
            enc=${rest#*:}
            case $ext in '' | *[!a-z]*) fail 2 "bad file extension in step '$step'" ;; esac
            file=$(own_file "$ext")
            remaining
            if [ "$enc" = vthreads ]; then
                # A JSON thread dump is only worth its bytes (several times the text dump's)
                # when it holds a virtual thread: else an empty frame says it held none.
                enc=text
                # shellcheck disable=SC2086
                if $runner test -e "/proc/$pid/root$file" \
                    && ! $runner grep -qF -e java.lang.VirtualThread.run -e '"virtual": true' "/proc/$pid/root$file" 2>/dev/null; then
                    mark "begin step=$name pid=$pid tool=file enc=text"
                    mark "end step=$name pid=$pid rc=0"
                    remove_jvm_file "$file"
                    continue
                fi
            fi
            mark "begin step=$name pid=$pid tool=file enc=$enc"
            rc=$({ { read_jvm_file "$file"; echo $? >&3; } | encode "$enc" >&4; } 3>&1)
            mark "end step=$name pid=$pid rc=$rc"
            remove_jvm_file "$file"
            [ "$rc" = 0 ] || [ -n "$optional" ] || fail 12 "the JVM wrote no $file (or it cannot be read): its /tmp may be full or read-only; mount a writable emptyDir at /tmp"
            ;;
        snippet:*:*)
            rest=${step#snippet:}
            name=${rest%%:*}
            kind=${rest#*:}
            case $kind in
                sample) code=$jdebug_snippet_sample ;;
                perfdata) code=$jdebug_snippet_perfdata ;;
                *) fail 2 "bad step '$step'" ;;
            esac
            remaining
            mark "begin step=$name pid=$pid tool=sh"
            # shellcheck disable=SC2086
            timeout -k 2 "$left" $runner /bin/sh -c "$code" jdebug-step "$pid"
            rc=$?
            mark "end step=$name pid=$pid rc=$rc"
            [ "$rc" = 0 ] || status=6
            ;;
        put:*:*)
            rest=${step#put:}
            ext=${rest%%:*}
            data=${rest#*:}
            case $ext in '' | *[!a-z]*) fail 2 "bad file extension in step '$step'" ;; esac
            made_files="$made_files $ext"
            file="/proc/$pid/root$(own_file "$ext")"
            # shellcheck disable=SC2086,SC2016
            printf '%s' "$data" | base64 -d | $runner /bin/sh -c 'cat >"$1"' jdebug-put "$file" 2>/dev/null \
                || fail 9 "the JVM's /tmp cannot be written, so jdebug cannot give it the recording's settings; mount a writable emptyDir at /tmp in the app container"
            ;;
        guard:jfr)
            remaining
            recordings=$(run_tool "$left" "JFR.check" 2>&1)
            case $recordings in
                *"name=jdebug-"*"(running)"*)
                    fail 11 "a jdebug profile is already recording this JVM; wait until it ends (its duration) and try again" ;;
            esac
            # Recordings of earlier runs that never got to remove theirs (the bot died): older
            # than any run lasts, so never another run's (a /tmp can be shared), just written.
            # shellcheck disable=SC2086
            $runner find "/proc/$pid/root/tmp/" -maxdepth 1 -name 'jdebug-*.jfr' -mmin +10 \
                -exec rm -f {} \; 2>/dev/null
            ;;
        *) fail 2 "bad step '$step'" ;;
    esac
done
exit "$status"
