"""Reading the agent's framed output: real runs, cut-off runs, and hostile text."""

from __future__ import annotations

import contextlib
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.agent import plan_agent_call
from bot.jvm.agent_errors import raise_for_agent
from bot.jvm.agent_frames import parse_agent_output
from bot.jvm.steps import repeated
from bot.model.errors import JdebugError
from bot.model.spool import Spool


def run_agent(*extra: str, count: int = 1, pid: int | None = None) -> tuple[str, str, int]:
    call = plan_agent_call(repeated("version", "VM.version", count, 1), deadline_s=30, pid=pid)
    proc = subprocess.run([*call.argv(), *extra], capture_output=True, text=True, timeout=60)
    return proc.stdout, call.nonce, proc.returncode


def test_repeated_steps_are_framed_separately_with_their_pid(cowweb_factory):
    jvm = cowweb_factory(21)
    stdout, nonce, rc = run_agent(count=2, pid=jvm.pid)
    out = parse_agent_output(stdout, nonce)
    assert rc == 0
    assert [s.name for s in out.steps] == ["version.1", "version.2"]
    assert all(s.pid == jvm.pid and s.exit_code == 0 and "JDK 21" in s.text for s in out.steps)
    assert any(j.pid == jvm.pid and j.main == "cowweb.jar" for j in out.jvms)
    assert out.target is not None and out.target.pid == jvm.pid


def test_a_pid_that_is_not_a_jvm_is_refused(cowweb_factory):
    cowweb_factory(21)
    stdout, nonce, rc = run_agent(pid=1)
    out = parse_agent_output(stdout, nonce)
    assert rc == 3 and out.fail_rc == 3
    with pytest.raises(JdebugError, match="pid 1 is not a JVM"):
        raise_for_agent(out, rc, "")


def test_markers_with_another_nonce_are_just_text():
    stdout = (
        "@@jdebug:aaaa begin step=jvms pid=- tool=proc\n"
        "@@jdebug:bbbb end step=jvms pid=- rc=0\n"
        "@@jdebug:aaaa end step=jvms pid=- rc=0\n"
    )
    out = parse_agent_output(stdout, "aaaa")
    assert out.jvm_text == "@@jdebug:bbbb end step=jvms pid=- rc=0\n"


def test_output_cut_off_mid_step_keeps_what_arrived():
    stdout = '@@jdebug:n begin step=threaddump pid=7 tool=jattach\n"main" #1 prio=5\n'
    out = parse_agent_output(stdout, "n")
    assert out.steps == ()
    assert '"main" #1' in out.unframed


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parsing_any_text_never_raises(text):
    out = parse_agent_output(text, "n")
    with contextlib.suppress(JdebugError):
        raise_for_agent(out, 0, text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), max_size=4),
    st.text(max_size=30),
)
def test_framed_steps_come_back_exactly(bodies, noise):
    """Whatever a tool prints (any text, ending in a newline as the agent's awk ensures)
    comes back as that step's text; text outside frames is kept as unframed."""
    bodies = [b if b.endswith("\n") or not b else b + "\n" for b in bodies]
    framed = noise + ("\n" if noise and not noise.endswith("\n") else "")
    for i, body in enumerate(bodies):
        framed += f"@@jdebug:n begin step=s{i} pid=7 tool=jattach\n{body}"
        framed += f"@@jdebug:n end step=s{i} pid=7 rc=0\n"
    out = parse_agent_output(framed, "n")
    assert [s.text for s in out.steps] == bodies
    assert [s.name for s in out.steps] == [f"s{i}" for i in range(len(bodies))]
    if "@@jdebug:n " not in noise:
        assert out.unframed == (noise + ("\n" if noise and not noise.endswith("\n") else ""))


_MARKERS = (
    b"@@jdebug:n begin step=threaddump pid=7 tool=jattach\n",
    b"@@jdebug:n begin step=jvms pid=- tool=proc\n",
    b"@@jdebug:n end step=threaddump pid=7 rc=0\n",
    b"@@jdebug:n end step=jvms pid=- rc=0\n",
    b"@@jdebug:n fail rc=3 no JVM in the target\n",
)
_TEXT = (
    b"7 1000 1000 cowweb.jar -Xmx64m\n",
    b"\n",
    b"@@jdebug:n",
    '"worker-\u00e4" #12 \u20ac \U0001f600\n'.encode(),
    b"\xe2\x82",
    b"\xff",
)
_BODY = st.lists(st.one_of(st.sampled_from(_TEXT), st.binary(max_size=12)), max_size=6)
_FRAME = st.tuples(st.sampled_from(_MARKERS[:2]), _BODY, st.sampled_from((*_MARKERS[2:], b"")))
_OUTPUT = st.lists(
    st.one_of(
        _FRAME.map(lambda f: f[0] + b"".join(f[1]) + f[2]),
        st.sampled_from(_MARKERS),
        _BODY.map(b"".join),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_OUTPUT, st.integers(min_value=1, max_value=64))
def test_spooled_output_splits_exactly_as_its_decoded_text(pieces, slice_bytes):
    """Read back from a file by byte offsets (cut at any slice size), the output gives the
    same steps, JVMs, failure and unframed text as the whole output decoded at once."""
    data = b"".join(pieces)
    with Spool(slice_bytes) as spool:
        for start in range(0, len(data), 7):
            spool.write(data[start : start + 7])
        from_file = parse_agent_output(spool, "n")
    assert from_file == parse_agent_output(data.decode("utf-8", "replace"), "n")
