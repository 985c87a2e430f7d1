"""The wait-for graph of one dump: which thread holds each lock, who is blocked behind whom.

Its cycles are deadlocks, found here without the JVM's own report (which `jcmd` can omit or
cut short), so the analysis can cross-check the two.
"""

from __future__ import annotations

from bot.jvm.threaddump.model import Deadlock, DeadlockLink, JavaThread, Lock, ThreadDump

BLOCKING_WAITS = frozenset(
    {"waiting to lock", "waiting to re-lock in wait()", "parking to wait for"}
)


def lock_owners(dump: ThreadDump) -> dict[str, JavaThread]:
    """Lock address → the thread holding it (monitors and j.u.c. ownable synchronizers)."""
    owners: dict[str, JavaThread] = {}
    for thread in dump.threads:
        for lock in (*thread.locks_held, *thread.ownable_synchronizers):
            if lock.address is not None:
                owners.setdefault(lock.address, thread)
    return owners


def _blocking_edges(
    dump: ThreadDump, owners: dict[str, JavaThread]
) -> dict[int, tuple[JavaThread, JavaThread, Lock]]:
    """Thread index → (thread, owner, lock) for every thread blocked on a lock someone holds."""
    edges: dict[int, tuple[JavaThread, JavaThread, Lock]] = {}
    for index, thread in enumerate(dump.threads):
        wait = thread.waiting_for
        if wait is None or wait.kind not in BLOCKING_WAITS or wait.lock.address is None:
            continue
        owner = owners.get(wait.lock.address)
        if owner is not None and owner is not thread:
            edges[index] = (thread, owner, wait.lock)
    return edges


def deadlocks_in_lock_graph(dump: ThreadDump) -> tuple[Deadlock, ...]:
    """Cycles in the wait-for graph (blocked thread → lock owner), found without the JVM's report.

    Each thread waits for at most one lock and each lock has one owner, so every node has at
    most one outgoing edge and one walk per node finds every cycle in linear time.
    """
    owners = lock_owners(dump)
    edges = _blocking_edges(dump, owners)
    index_of = {id(t): i for i, t in enumerate(dump.threads)}
    colour: dict[int, int] = {}  # 1 = on the current walk, 2 = done
    cycles: list[Deadlock] = []
    for start in edges:
        walk: list[int] = []
        node: int | None = start
        while node is not None and node in edges and node not in colour:
            colour[node] = 1
            walk.append(node)
            node = index_of[id(edges[node][1])]
        if node is not None and colour.get(node) == 1:
            members = walk[walk.index(node) :]
            links = [DeadlockLink(edges[m][0].name, edges[m][2], edges[m][1].name) for m in members]
            first = min(range(len(links)), key=lambda i: links[i].thread)
            cycles.append(Deadlock(tuple(links[first:] + links[:first])))
        for visited in walk:
            colour[visited] = 2
    return tuple(cycles)
