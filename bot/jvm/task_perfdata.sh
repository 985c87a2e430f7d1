#!/bin/sh
# jdebug perf-data sample: the JVM's hsperfdata file (its jvmstat counters) as hex, and a clock.
#
# Run as: sh -c "$(cat task_perfdata.sh)" jdebug-perfdata PID
# `jcmd PID PerfCounter.print` reads the same file, but it is jcmd's own feature, not a
# command the JVM answers, so jattach cannot run it; this works in any image with `od`
# (busybox has it). PID is the only input and is checked before use. Run it as the JVM's
# uid: the file is mode 0600 and /proc/PID/root is a ptrace-read check.
# Output (bot/jvm/perfcounters.py parses it):
#   jdebug-perfdata 1 pid=PID nspid=NSPID
#   uptime SECONDS IDLE
#   file PATH            then the file as `od -An -v -tx1` lines
#   missing PATTERN      when no readable file matches (e.g. -XX:-UsePerfData)
#   end
# Failures print `error CODE MESSAGE` and exit CODE: 2 bad pid, 3 no such process.

pid=$1
fail() { echo "error $1 $2"; exit "$1"; }
case $pid in '' | *[!0-9]*) fail 2 "the pid must be a number, got '$pid'" ;; esac
[ -r "/proc/$pid/status" ] || fail 3 "no process with pid $pid is visible here"

# The file is named by the pid in the JVM's own namespace: the last NSpid field.
nspid=$pid
while read -r key rest; do
    if [ "$key" = "NSpid:" ]; then
        for id in $rest; do nspid=$id; done
    fi
done <"/proc/$pid/status"

echo "jdebug-perfdata 1 pid=$pid nspid=$nspid"
read -r up idle </proc/uptime && echo "uptime $up $idle"

# HotSpot writes /tmp/hsperfdata_<user>/<nspid> in its own /tmp. Prefer the file this uid
# owns: another user's JVM in a shared /tmp can have had the same pid.
pattern="/proc/$pid/root/tmp/hsperfdata_*/$nspid"
chosen=
for file in $pattern; do
    [ -r "$file" ] || continue
    if [ -O "$file" ] || [ -z "$chosen" ]; then
        chosen=$file
    fi
done
if [ -n "$chosen" ]; then
    # Only the part in use (the prologue's `used`, bytes 8-11 in the JVM's, so this host's,
    # byte order) holds counters: a third of the file, so a third of the text.
    used=$(od -An -tu4 -j8 -N4 "$chosen")
    used=${used##* }
    case $used in '' | *[!0-9]*) used= ;; esac
    echo "file $chosen"
    od -An -v -tx1 ${used:+-N "$used"} "$chosen"
else
    echo "missing $pattern"
fi
echo end
