"""movierec-train: build a new registry version from the data directory."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from .config import TrainConfig
from .errors import DataError
from .pipeline import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec-train", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=TrainConfig.data_dir)
    parser.add_argument("--registry", type=Path, default=TrainConfig.registry_dir)
    parser.add_argument("--no-promote", action="store_true", help="register the version without serving it")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = dataclasses.replace(TrainConfig(), data_dir=args.data_dir, registry_dir=args.registry,
                                 promote=not args.no_promote)
    try:
        train(config)
    except (DataError, FileNotFoundError) as exc:
        print(f"training failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
