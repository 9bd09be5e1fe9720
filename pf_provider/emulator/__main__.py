"""``python -m pf_provider.emulator``: serve the emulator until Ctrl-C or SIGTERM.

The first lines on stdout are ``url=...``, ``client_id=...`` and ``client_secret=...``
(and ``ca_cert=...`` with ``--tls``), so scripts can read them. Printing the demo
credentials it was given is this command's job; nothing else is ever printed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from pf_provider.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pf_provider.emulator",
        description="Local emulator of the Probable Futures API (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--client-id", default=DEMO_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEMO_CLIENT_SECRET)
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per window per IP; 0 disables")
    parser.add_argument("--rate-window", type=float, default=60.0, help="rate-limit window in seconds")
    parser.add_argument("--token-lifetime", type=float, default=86400.0, help="token lifetime in seconds")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of /graphql answered with 5xx")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of /graphql connections dropped")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--latency-jitter", type=float, default=0.0, help="up to this many more seconds")
    parser.add_argument("--wrong-credentials", choices=("201", "500"), default="201")
    parser.add_argument("--no-mask-errors", action="store_true", help="show real GraphQL error messages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throw-away CA (path printed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = EmulatorConfig(
            client_id=args.client_id,
            client_secret=args.client_secret,
            host=args.host,
            port=args.port,
            rate_limit=args.rate_limit or None,
            rate_window=args.rate_window,
            token_lifetime=args.token_lifetime,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            wrong_credentials=args.wrong_credentials,
            mask_errors=not args.no_mask_errors,
            seed=args.seed,
            tls=args.tls,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from pf_provider.emulator.server import Emulator

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        emulator = Emulator(config).start()
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    try:
        lines = [f"url={emulator.url}", f"client_id={emulator.client_id}", f"client_secret={emulator.client_secret}"]
        if emulator.ca_cert_path:
            lines.append(f"ca_cert={emulator.ca_cert_path}")
        print("\n".join(lines), flush=True)
        print("Probable Futures API emulator running; Ctrl-C to stop.", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
