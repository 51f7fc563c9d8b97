"""``python -m audiolab.colab set-repo URL`` and ``python -m audiolab.colab check``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .cells import problems, set_repo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audiolab.colab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("set-repo", help="point the Colab badges, setup cells and README links at a repository")
    p.add_argument("url", help="https://github.com/OWNER/NAME (or .../tree/BRANCH for a branch other than main)")
    p.add_argument("--root", type=Path, default=None, help="the checkout to change (default: this one)")
    p = sub.add_parser("check", help="list what disagrees with the repository in pyproject.toml; 1 if anything does")
    p.add_argument("--root", type=Path, default=None, help="the checkout to check (default: this one)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "set-repo":
            changed = set_repo(args.url, args.root)
            print("\n".join(f"rewrote {p.name}" for p in changed) if changed else "nothing to change: already set")
            return 0
        found = problems(args.root)
    except (OSError, ValueError) as error:
        print(f"python -m audiolab.colab {args.command}: error: {error}", file=sys.stderr)
        return 2
    for line in found:
        print(line)
    if found:
        print("fix: python -m audiolab.colab set-repo <the Repository URL of pyproject.toml>", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
