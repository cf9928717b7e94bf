"""``python -m keras_inspect findings LOGDIR``: print the findings; exit 1 on an alert.

So that a CI pipeline can gate on a training run: ``--fail-on warning`` makes warnings fail it
too, ``--fail-on never`` only prints. Exit status 2 is a usage error (a missing directory).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from keras_inspect.errors import ConfigError
from keras_inspect.findings import findings

__all__ = ["main"]

_RANK = {"alert": 0, "warning": 1, "info": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m keras_inspect",
        description="Tools for keras_inspect log directories.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "findings",
        help="print what looks wrong in the runs under LOGDIR",
        description="Print the findings of every run under LOGDIR (see keras_inspect.findings). "
        "Exit status: 1 if a finding is at or above --fail-on, 2 on a usage error, else 0.",
    )
    cmd.add_argument("logdir", metavar="LOGDIR")
    cmd.add_argument(
        "--fail-on",
        choices=["alert", "warning", "info", "never"],
        default="alert",
        help="lowest severity that makes the exit status 1 (default: alert)",
    )
    cmd.add_argument(
        "--format",
        choices=["text", "csv", "json"],
        default="text",
        help="text for people, csv or json (one object per finding) for programs",
    )
    args = parser.parse_args(argv)
    try:
        found = findings(args.logdir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "csv":
        sys.stdout.write(found.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(found.to_json(orient="records", lines=True))
    else:
        _print_text(found, args.logdir)
    if args.fail_on == "never" or found.empty:
        return 0
    limit = _RANK[args.fail_on]
    return 1 if (found["severity"].map(_RANK) <= limit).any() else 0


def _print_text(found, logdir: str) -> None:
    if found.empty:
        print(f"No findings in {logdir}.")
        return
    counts = found["severity"].value_counts()
    summary = ", ".join(f"{counts[s]} {s}" for s in _RANK if s in counts)
    print(f"{len(found)} findings in {logdir} ({summary}):")
    for run, part in found.groupby("run", sort=False):
        print(f"\nrun {run}")
        for row in part.itertuples():
            head = f"  {row.severity.upper():7} step {row.step:<5} {row.kind}: "
            body = textwrap.fill(
                row.message, width=100, initial_indent=head, subsequent_indent=" " * 8
            )
            print(body)


if __name__ == "__main__":
    sys.exit(main())
