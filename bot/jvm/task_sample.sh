#!/bin/sh
# jdebug CPU sample: every thread's CPU time and namespace tid, a clock and the CPU limit.
#
# Run as: sh -c "$(cat task_sample.sh)" jdebug-sample PID
# Only shell builtins (not even `cat`), so it runs in a busybox image; PID is the only input
# and is checked before use. Run it as the JVM's uid: /proc/PID/root (the JVM's own cgroup view)
# is a ptrace-read check; the stat and status files are readable by anyone.
# Output, one record a line (bot/jvm/tasks.py parses it):
#   jdebug-sample 1 pid=PID
#   uptime SECONDS IDLE                    /proc/uptime, the clock between two samples
#   cpus LIST                              Cpus_allowed_list of the JVM (e.g. 0-3)
#   limit v2 FILE QUOTA PERIOD             cgroup v2 cpu.max (QUOTA may be `max`)
#   limit v1 DIR QUOTA PERIOD              cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us
#   limit none                             no CPU limit file found
#   process STAT                           /proc/PID/stat: the whole JVM, ended threads too
#   stat STAT                              /proc/PID/task/TID/stat, one per thread
#   nspid TID NSPID...                     its NSpid: line; the last one is the JVM's `nid`
#   end THREADS
# Failures print `error CODE MESSAGE` and exit CODE: 2 bad pid, 3 no such process.

pid=$1
fail() { echo "error $1 $2"; exit "$1"; }
case $pid in '' | *[!0-9]*) fail 2 "the pid must be a number, got '$pid'" ;; esac
[ -d "/proc/$pid/task" ] || fail 3 "no process with pid $pid is visible here"

echo "jdebug-sample 1 pid=$pid"
read -r up idle </proc/uptime && echo "uptime $up $idle"
while read -r key value; do
    [ "$key" = "Cpus_allowed_list:" ] && echo "cpus $value"
done <"/proc/$pid/status"

# The JVM's cgroup as this process sees it (`0::/path` on v2, `N:cpu,cpuacct:/path` on v1).
# A path with `..` lies outside this process's cgroup namespace, so only the JVM's own view
# (/proc/PID/root/sys/fs/cgroup) can be read.
v2_path=
v1_path=
while IFS=: read -r _ controllers path; do
    if [ -z "$controllers" ]; then
        v2_path=$path
    else
        case ",$controllers," in *,cpu,*) v1_path=$path ;; esac
    fi
done <"/proc/$pid/cgroup"

# limit_v2 FILE / limit_v1 DIR: print the limit record and succeed if the file is readable.
limit_v2() {
    [ -r "$1" ] || return 1
    read -r quota period <"$1" || return 1
    echo "limit v2 $1 $quota $period"
}
limit_v1() {
    [ -r "$1/cpu.cfs_quota_us" ] || return 1
    read -r quota <"$1/cpu.cfs_quota_us" || return 1
    read -r period <"$1/cpu.cfs_period_us" || return 1
    echo "limit v1 $1 $quota $period"
}
outside() { case $1 in '' | / | *..*) return 0 ;; esac; return 1; }

# Our own view of the JVM's cgroup first: it is right for a host process and for a node
# pod that sees the host's cgroups; the JVM's root is right for a container with its own
# cgroup namespace (the runtime mounts the container's cgroup at its /sys/fs/cgroup).
root=/proc/$pid/root/sys/fs/cgroup
{ ! outside "$v2_path" && limit_v2 "/sys/fs/cgroup$v2_path/cpu.max"; } \
    || { ! outside "$v1_path" && limit_v1 "/sys/fs/cgroup/cpu$v1_path"; } \
    || { ! outside "$v1_path" && limit_v1 "/sys/fs/cgroup/cpu,cpuacct$v1_path"; } \
    || limit_v2 "$root/cpu.max" \
    || limit_v1 "$root/cpu" \
    || limit_v1 "$root/cpu,cpuacct" \
    || echo "limit none"

read -r line <"/proc/$pid/stat" && echo "process $line"
threads=0
for dir in "/proc/$pid/task/"*; do
    tid=${dir##*/}
    # A thread that ends while it is read leaves no line (or half a pair): the parser copes.
    line=
    read -r line 2>/dev/null <"$dir/stat" || continue
    echo "stat $line"
    while read -r key rest; do
        if [ "$key" = "NSpid:" ]; then
            echo "nspid $tid $rest"
            break
        fi
    done 2>/dev/null <"$dir/status"
    threads=$((threads + 1))
done
echo "end $threads"
