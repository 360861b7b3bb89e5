"""A stand-in for Google's token endpoint on an event loop, in its own process.

Usage: python -m benchmarks.async_stand_in DELAY CERT_FILE KEY_FILE
It serves HTTPS on 127.0.0.1 (a free port), prints ``PORT`` once listening,
answers every ``refresh_token`` grant with a new access token after DELAY
seconds (concurrently: thousands of calls can wait at once), and on a line on
stdin prints one JSON object and exits: the calls it got, the most calls any
one refresh token got, and its own CPU seconds, so that a benchmark can tell
the library's CPU time from the stand-in's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import ssl
import sys
from collections import Counter
from urllib.parse import parse_qs

from aiohttp import web


def main() -> None:
    delay, cert, key = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    calls: Counter[str] = Counter()
    serial = itertools.count(1)

    async def token(request: web.Request) -> web.Response:
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        calls[form.get("refresh_token", "")] += 1
        await asyncio.sleep(delay)
        return web.json_response(
            {
                "access_token": f"ya29.ASYNC-{next(serial)}",
                "expires_in": 3599,
                "scope": "openid email profile",
                "token_type": "Bearer",
            }
        )

    async def serve() -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_post("/token", token)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context, backlog=4096)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            json.dumps(
                {
                    "calls": sum(calls.values()),
                    "most_for_one_token": max(calls.values(), default=0),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                }
            ),
            flush=True,
        )
        await runner.cleanup()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
