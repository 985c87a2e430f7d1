"""The limiter on its own, with a clock the test moves: every bound holds, a refusal uses up
nothing, and "try again in N s" is honest (after N s the same request is admitted)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access.limits import Limiter, Limits, Permit
from bot.model.errors import Busy


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


LOOSE = Limits(running=64, waiting=1000, per_user=64, user_per_minute=10_000,
               global_per_minute=100_000)  # fmt: skip


def limiter(limits: Limits) -> tuple[Limiter, Clock]:
    clock = Clock()
    return Limiter(limits, clock), clock


def admit_ok(lim: Limiter, user: str) -> Permit:
    permit = lim.admit(user)
    assert isinstance(permit, Permit), permit
    return permit


def admit_busy(lim: Limiter, user: str) -> Busy:
    busy = lim.admit(user)
    assert isinstance(busy, Busy), busy
    return busy


def test_a_user_over_their_rate_is_told_a_wait_after_which_they_are_admitted() -> None:
    limits = replace(LOOSE, user_per_minute=3)
    lim, clock = limiter(limits)
    for _ in range(limits.user_per_minute):
        admit_ok(lim, "U1").release()
    busy = admit_busy(lim, "U1")
    assert busy.retry_after_s == 20  # 3 a minute: the next token comes 60/3 s later
    assert "in the last minute" in busy.message
    admit_ok(lim, "U2").release()  # someone else is not held back by U1's rate

    clock.now += busy.retry_after_s - 1
    assert isinstance(lim.admit("U1"), Busy)
    clock.now += 1
    admit_ok(lim, "U1")


def test_the_global_rate_holds_back_every_user() -> None:
    limits = replace(LOOSE, global_per_minute=5)
    lim, clock = limiter(limits)
    for n in range(limits.global_per_minute):
        admit_ok(lim, f"U{n}").release()
    busy = admit_busy(lim, "U-new")
    assert "at most 5 requests a minute" in busy.message
    assert busy.retry_after_s == 12  # 5 a minute: one every 12 s
    clock.now += 11
    admit_busy(lim, "U-new")
    clock.now += 1
    admit_ok(lim, "U-new")


def test_a_refused_request_uses_up_no_rate() -> None:
    limits = replace(LOOSE, per_user=1, user_per_minute=2)
    lim, _ = limiter(limits)
    held = admit_ok(lim, "U1")
    for _ in range(50):
        assert "under way" in admit_busy(lim, "U1").message
    held.release()
    admit_ok(lim, "U1")  # the second token is still there


def test_per_user_concurrency_frees_when_a_request_ends() -> None:
    limits = replace(LOOSE, per_user=2)
    lim, _ = limiter(limits)
    first, second = admit_ok(lim, "U1"), admit_ok(lim, "U1")
    busy = admit_busy(lim, "U1")
    assert "you already have 2 requests under way (at most 2)" in busy.message
    admit_ok(lim, "U2")
    first.release()
    first.release()  # a second release changes nothing
    assert lim.held_by("U1") == 1
    admit_ok(lim, "U1")
    with second:
        pass
    assert lim.held_by("U1") == 1


def test_nothing_beyond_running_plus_waiting_is_admitted() -> None:
    limits = replace(LOOSE, running=2, waiting=3)
    lim, _ = limiter(limits)
    permits = [admit_ok(lim, f"U{n}") for n in range(limits.admitted)]
    busy = admit_busy(lim, "U-late")
    assert f"{limits.running} requests are running and {limits.waiting} are waiting" in (
        busy.message
    )
    permits.pop().release()
    admit_ok(lim, "U-late")


def test_the_wait_for_a_slot_follows_how_long_runs_take() -> None:
    limits = replace(LOOSE, running=1, waiting=0)
    lim, clock = limiter(limits)
    for _ in range(20):  # runs that take 4 s teach the estimate
        permit = admit_ok(lim, "U1")
        permit.start()
        clock.now += 4
        permit.release()
    assert abs(lim.run_estimate_s - 4) < 0.1
    running = admit_ok(lim, "U1")
    running.start()
    clock.now += 1.5
    busy = admit_busy(lim, "U2")
    assert busy.retry_after_s == 3  # about 4 s a run, 1.5 s gone: 2.5 s left, told 3 s
    clock.now += 10  # overdue: still at least 1 s, never 0 or negative
    assert admit_busy(lim, "U2").retry_after_s == 1


def test_a_waiting_request_is_expected_to_end_after_the_runs_ahead_of_it() -> None:
    limits = replace(LOOSE, running=1, waiting=5, per_user=1, typical_run_s=10)
    lim, _ = limiter(limits)
    admit_ok(lim, "U1").start()
    admit_ok(lim, "U2")  # waits behind U1
    assert admit_busy(lim, "U1").retry_after_s == 10  # U1's run: one typical run
    assert admit_busy(lim, "U2").retry_after_s == 20  # U2 waits for U1's, then runs its own


def test_buckets_of_users_who_went_quiet_are_forgotten() -> None:
    lim, clock = limiter(LOOSE)
    for n in range(5000):
        admit_ok(lim, f"U{n}").release()
    clock.now += 60
    for n in range(5000, 7000):
        admit_ok(lim, f"U{n}").release()
    assert len(lim._buckets) < 2100


ops = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), st.integers(0, 5)),
        st.tuples(st.just("quick"), st.integers(0, 5)),  # admitted and ended at once
        st.tuples(st.just("start"), st.integers(0, 30)),
        st.tuples(st.just("release"), st.integers(0, 30)),
        st.tuples(st.just("wait"), st.floats(0, 60)),
    ),
    max_size=200,
)


def assert_rate_held(times: list[float], per_minute: int, who: str) -> None:
    """The per-minute bound as README.md words it: a token bucket, "a burst of that many,
    then one every 60/N seconds". Between any two admits at t_i <= t_j, both counted, at
    most N + N * (t_j - t_i) / 60 were admitted. (Not "N in any 60 s": after a burst of N
    the bucket refills, so up to 2N - 1 fit in one minute by design.)"""
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            bound = per_minute + per_minute * (times[j] - first + 1e-6) / 60
            assert j - i + 1 <= bound, f"{who}: {j - i + 1} admits at {times[i : j + 1]}"


@settings(max_examples=1000, deadline=None)
@given(
    ops=ops,
    limits=st.builds(
        Limits,
        running=st.integers(1, 4),
        waiting=st.integers(0, 4),
        per_user=st.integers(1, 3),
        user_per_minute=st.integers(1, 6),  # small, so the buckets run dry and refill
        global_per_minute=st.integers(1, 12),
    ),
)
def test_no_sequence_of_events_breaks_a_bound(ops: list[tuple[str, float]], limits: Limits) -> None:
    lim, clock = limiter(limits)
    live: list[Permit] = []
    admitted_at: dict[str, list[float]] = {}
    for op, arg in ops:
        if op in ("admit", "quick"):
            user = f"U{int(arg)}"
            got = lim.admit(user)
            if isinstance(got, Permit):
                live.append(got)
                admitted_at.setdefault(user, []).append(clock.now)
                if op == "quick":  # a run so short the clock does not move: only rates bind
                    got.start()
                    got.release()
                    live.remove(got)
            else:
                assert isinstance(got.retry_after_s, int) and got.retry_after_s >= 1
                assert re.fullmatch(
                    rf"jdebug is busy: .+; try again in {got.retry_after_s} s\.", got.message
                )
        elif op == "wait":
            clock.now += arg
        elif live:
            permit = live[int(arg) % len(live)]
            if op == "start":
                permit.start()
            else:
                permit.release()
                live.remove(permit)
        assert lim.admitted == len(live) <= limits.admitted
        assert lim.running <= lim.admitted
        for user in {p.user for p in live}:
            assert lim.held_by(user) == sum(p.user == user for p in live) <= limits.per_user
    for user, times in admitted_at.items():
        assert_rate_held(times, limits.user_per_minute, user)
    everyone = sorted(t for times in admitted_at.values() for t in times)
    assert_rate_held(everyone, limits.global_per_minute, "all users")
