"""`python -m tests.fakeslack --port N`: the fake Slack on its own, for an outside client.

It accepts any `xoxb-` (bot) or `xapp-` (app-level) token, prints its Web API base URL and
runs until interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from tests.fakeslack.server import FakeSlack


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeSlack(any_token=True, host=host, port=port) as slack:
        print(f"fake Slack listening: base_url={slack.api_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeslack", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
