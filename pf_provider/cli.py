"""The ``pf-provider`` command line: ``extract``, ``token``, ``datasets``.

Credentials come from ``PF_CLIENT_ID``, ``PF_CLIENT_SECRET`` and ``PF_API_URL``, or a
prompt at a terminal; never from arguments, which other users can read in the process
list. Exit codes: 0 success, 2 bad input or arguments, 3 credentials refused, 4 the API
or the network failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

from . import __version__, catalog
from .client import ProbableFuturesClient
from .errors import AuthenticationError, InvalidInputError, ProbableFuturesError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_INTERRUPTED = 130


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _credentials(stdin: TextIO) -> tuple[str, str, str | None]:
    client_id = os.environ.get("PF_CLIENT_ID", "").strip()
    secret = os.environ.get("PF_CLIENT_SECRET", "")
    interactive = stdin.isatty()
    if not client_id:
        if not interactive:
            raise CliError("no client ID: set PF_CLIENT_ID (and PF_CLIENT_SECRET) in the environment", EXIT_BAD_INPUT)
        client_id = input("Probable Futures client ID: ").strip()
    if not secret:
        if not interactive:
            raise CliError("no client secret: set PF_CLIENT_SECRET in the environment", EXIT_BAD_INPUT)
        secret = getpass.getpass("Probable Futures client secret: ")
    return client_id, secret, os.environ.get("PF_API_URL") or None


def _client(stdin: TextIO) -> ProbableFuturesClient:
    client_id, secret, api_url = _credentials(stdin)
    kwargs = {"api_url": api_url} if api_url else {}
    return ProbableFuturesClient(client_id, secret, **kwargs)


def _cmd_token(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    with _client(stdin) as client:
        client.get_access_token()
        expires = client.token_expires_at
        assert expires is not None
        left = expires - datetime.now(timezone.utc)
        hours, rest = divmod(int(left.total_seconds()), 3600)
        print(
            f"Credentials accepted for client ID {client.client_id!r} at {client.api_url}. "
            f"The token expires at {expires.isoformat()} (in {hours}h{rest // 60:02d}m).",
            file=out,
        )
    return EXIT_OK


def _cmd_datasets(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    datasets = catalog.all_datasets()
    if args.json:
        json.dump([d.to_dict() for d in datasets], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return EXIT_OK
    print(f"{'id':>6}  {'category':<8} {'unit':<12} name", file=out)
    for d in datasets:
        print(f"{d.dataset_id:>6}  {d.category:<8} {d.unit:<12} {d.map_name}", file=out)
    return EXIT_OK


def _cmd_extract(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .extract import extract

    with _client(stdin) as client:
        summary = extract(
            client,
            args.sites,
            args.out,
            datasets=args.datasets,
            scenarios=args.scenarios,
            include_values=args.values,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            rejects=args.rejects,
            resume=not args.no_resume,
            format=args.format,
            progress_interval=args.progress_interval,
        )
    info = summary.to_dict()
    print(
        f"Wrote {info['rows_written']} rows for {info['fetched_sites']} sites to {info['output']} "
        f"({info['skipped_sites']} already done, {info['rejected_sites']} rejected"
        + (f" -> {info['rejects']}" if info["rejected_sites"] else "")
        + f"; {info['requests']} requests in {info['seconds']:.1f} s)",
        file=out,
    )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pf-provider",
        description="Probable Futures climate data from the command line. Credentials come from "
        "PF_CLIENT_ID / PF_CLIENT_SECRET / PF_API_URL, or a prompt.",
    )
    parser.add_argument("--version", action="version", version=f"pf-provider {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests (never headers or tokens)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="check the credentials and show when the token expires")
    token.set_defaults(run=_cmd_token)

    datasets = commands.add_parser("datasets", help="list the published datasets")
    datasets.add_argument("--json", action="store_true", help="print the catalog as JSON")
    datasets.set_defaults(run=_cmd_datasets)

    ext = commands.add_parser("extract", help="fetch statistics for a CSV of sites, resumably")
    ext.add_argument("--sites", required=True, help="CSV with site_id and latitude/longitude or country/city/address")
    ext.add_argument("--out", required=True, help="output file: .jsonl, .csv or .parquet")
    ext.add_argument("--datasets", help="comma-separated dataset ids (default: all)")
    ext.add_argument("--scenarios", help="comma-separated warming scenarios, e.g. 1.5,2.0 (default: all six)")
    ext.add_argument("--values", action="store_true", help="include the 101 percentiles of each row")
    ext.add_argument("--batch-size", type=int, default=50, help="operations per request (default 50)")
    ext.add_argument("--concurrency", type=int, default=2, help="requests in flight (default 2)")
    ext.add_argument("--rejects", help="where rejected sites go (default <out>.rejects.jsonl)")
    ext.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    ext.add_argument("--format", choices=["jsonl", "csv", "parquet"], help="output format (default: from --out)")
    ext.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress lines")
    ext.set_defaults(run=_cmd_extract)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args, out, stdin)
    except CliError as exc:
        print(f"pf-provider: {exc}", file=sys.stderr)
        return exc.code
    except InvalidInputError as exc:
        print(f"pf-provider: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AuthenticationError as exc:
        print(f"pf-provider: {exc}", file=sys.stderr)
        return EXIT_AUTH
    except ProbableFuturesError as exc:
        print(f"pf-provider: {exc}", file=sys.stderr)
        return EXIT_API
    except OSError as exc:  # an output path that cannot be written, a sites file that cannot be read
        print(f"pf-provider: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pf-provider: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
