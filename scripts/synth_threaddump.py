"""Build a synthetic N-thread `Thread.print -l` dump from a real one, for the parser benchmark.

The real dump's Java thread blocks are replicated round-robin. Copy k renames every thread
(`name~k`) and shifts its `#N`, os thread id, tid and lock addresses by k, so each copy keeps
its own consistent lock graph (its cows queue behind its own barn door). Usage:
    python scripts/synth_threaddump.py REAL.txt [--threads 10000] > synthetic.txt
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_JAVA_HEADER = re.compile(r'"(?P<name>.*)" #(?P<number>\d+) ')
_NUMBER = re.compile(r" #(\d+) ")
_OS_ID = re.compile(r" \[(\d+)\] ")
_NID = re.compile(r" nid=(0x[0-9a-fA-F]+|\d+) ")
_ADDRESS = re.compile(r"0x([0-9a-fA-F]{16})")
# Shifting the high 32 bits keeps every address 16 hex digits wide and distinct per copy.
_ADDRESS_STEP = 1 << 32
_OS_ID_STEP = 100_000


def _split(real: str) -> tuple[list[str], list[list[str]], list[list[str]], list[str]]:
    """(lines before the first thread, Java thread blocks, VM-internal blocks, the tail)."""
    head: list[str] = []
    java: list[list[str]] = []
    internal: list[list[str]] = []
    tail: list[str] = []
    block: list[str] | None = None
    in_smr = False
    for line in real.splitlines():
        if tail or line.startswith("JNI global "):
            tail.append(line)
        elif line.startswith('"'):
            block = [line]
            (java if _JAVA_HEADER.match(line) else internal).append(block)
        elif block is not None:
            block.append(line)
        elif line == "Threads class SMR info:":
            in_smr = True
        elif in_smr:
            in_smr = bool(line)
        else:
            head.append(line)
    return head, java, internal, tail


def _shift_address(match: re.Match[str], copy: int) -> str:
    return f"0x{(int(match.group(1), 16) + copy * _ADDRESS_STEP) & (2**64 - 1):016x}"


def _renamed(block: list[str], copy: int, number_step: int) -> list[str]:
    header = _JAVA_HEADER.match(block[0])
    assert header is not None
    name = header.group("name")
    first = f'"{name}~{copy}" ' + block[0][len(name) + 3 :]
    first = _NUMBER.sub(lambda m: f" #{int(m.group(1)) + copy * number_step} ", first, count=1)
    first = _OS_ID.sub(lambda m: f" [{int(m.group(1)) + copy * _OS_ID_STEP}] ", first, count=1)

    def nid(match: re.Match[str]) -> str:
        value = match.group(1)
        if value.startswith("0x"):
            return f" nid={int(value, 16) + copy * _OS_ID_STEP:#x} "
        return f" nid={int(value) + copy * _OS_ID_STEP} "

    first = _NID.sub(nid, first, count=1)
    return [_ADDRESS.sub(lambda m: _shift_address(m, copy), line) for line in [first, *block[1:]]]


def synthesise_dump(real: str, threads: int = 10_000) -> str:
    """A dump with `threads` Java threads (plus the real VM-internal ones) built from `real`."""
    head, java, internal, tail = _split(real)
    if not java:
        raise ValueError("the real dump has no Java thread to replicate")
    numbers = [int(m.group("number")) for b in java if (m := _JAVA_HEADER.match(b[0]))]
    number_step = max(numbers) + 1
    blocks: list[list[str]] = []
    copy = 0
    while len(blocks) < threads:
        for block in java:
            if len(blocks) == threads:
                break
            blocks.append(block if copy == 0 else _renamed(block, copy, number_step))
        copy += 1
    tids = [m.group(1) for b in blocks if (m := re.search(r" tid=(0x[0-9a-fA-F]+) ", b[0]))]
    smr = [
        "Threads class SMR info:",
        f"_java_thread_list=0x00007f0000000000, length={len(tids)}, elements={{",
        *(
            ", ".join(tids[i : i + 4]) + ("," if i + 4 < len(tids) else "")
            for i in range(0, len(tids), 4)
        ),
        "}",
        "",
    ]
    lines = [*head, *smr]
    for block in (*blocks, *internal):
        lines.extend(block)
    lines.extend(tail)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", help="a real `Thread.print -l` output, or - for stdin")
    parser.add_argument("--threads", type=int, default=10_000, help="Java threads to produce")
    args = parser.parse_args(argv)
    real = sys.stdin.read() if args.real == "-" else Path(args.real).read_text()
    sys.stdout.write(synthesise_dump(real, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
