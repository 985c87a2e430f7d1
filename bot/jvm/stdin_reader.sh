# jdebug's second stage, sourced by the debug container's bootstrap (bot/jvm/delivery.py)
# with `d` set to its private folder; it comes over stdin, so the pod spec never holds it.
# From the same stdin it reads:
#   K\n  then K times: ARCH SIZE\n and SIZE bytes     attach helpers, by `uname -m`
#   SIZE\n SIZE bytes                                  the agent script
#   N\n  then N lines                                  the agent's argv, one word a line
# Sizes go through `read`, bytes through `dd bs=1` (no tool reads past its part), and the
# words become "$@" for the agent: nothing here is evaluated as shell text.
# shellcheck shell=sh disable=SC2154
read -r k
while [ "$k" -gt 0 ]; do
    read -r a n
    dd bs=1 count="$n" of="$d/h$a" 2>/dev/null
    k=$((k - 1))
done
m=$(uname -m)
[ -s "$d/h$m" ] && mv "$d/h$m" "$d/jdebug-attach" && chmod 700 "$d/jdebug-attach"
rm -f "$d"/h*
read -r n
dd bs=1 count="$n" of="$d/a" 2>/dev/null
set --
read -r k
while [ "$k" -gt 0 ]; do
    IFS= read -r x
    set -- "$@" "$x"
    k=$((k - 1))
done
