"""Fill the data directory: copy from a local shared copy when there is one, else download.

MovieLens is downloaded from GroupLens (checksum-verified when the shared SHA256SUMS is known).
TMDB 5000 is published on Kaggle behind a login, so it cannot be fetched anonymously: the
message says exactly where to put the two files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import urllib.request
import zipfile
from pathlib import Path

MOVIELENS = "ml-latest-small"
TMDB = "tmdb-5000"
MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
MOVIELENS_FILES = ("links.csv", "movies.csv", "ratings.csv", "tags.csv", "README.txt")
TMDB_FILES = ("tmdb_5000_movies.csv", "tmdb_5000_credits.csv.gz")
TMDB_HELP = (
    "TMDB 5000 is not in {target}. Download the Kaggle dataset 'tmdb/tmdb-movie-metadata' "
    "(needs a Kaggle account), and put tmdb_5000_movies.csv and tmdb_5000_credits.csv "
    "(or .csv.gz) into {target}/."
)
DOWNLOAD_TIMEOUT = 60


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expected_checksums(shared: Path) -> dict[str, str]:
    sums = shared / "SHA256SUMS"
    if not sums.is_file():
        return {}
    pairs = (line.split(maxsplit=1) for line in sums.read_text().splitlines() if line.strip())
    return {name.strip().lstrip("*"): digest for digest, name in pairs}


def _present(folder: Path, names: tuple[str, ...]) -> bool:
    return all((folder / n).is_file() or (folder / n.removesuffix(".gz")).is_file() for n in names)


def copy_shared(shared: Path, data_dir: Path) -> list[str]:
    """Copy the shared datasets that are missing here, verifying each against SHA256SUMS."""
    expected = _expected_checksums(shared)
    copied = []
    for folder, names in ((MOVIELENS, MOVIELENS_FILES), (TMDB, TMDB_FILES)):
        for name in names:
            source, target = shared / folder / name, data_dir / folder / name
            if target.is_file() or not source.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            digest = expected.get(f"{folder}/{name}")
            if digest and _sha256(target) != digest:
                target.unlink()
                raise SystemExit(f"checksum mismatch copying {source}: the shared copy is damaged")
            copied.append(f"{folder}/{name}")
    return copied


def download_movielens(data_dir: Path) -> None:
    print(f"downloading {MOVIELENS_URL} …", file=sys.stderr)
    with urllib.request.urlopen(MOVIELENS_URL, timeout=DOWNLOAD_TIMEOUT) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    target = data_dir / MOVIELENS
    target.mkdir(parents=True, exist_ok=True)
    for name in MOVIELENS_FILES:
        (target / name).write_bytes(archive.read(f"{MOVIELENS}/{name}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill the movierec data directory.")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir
    if args.shared.is_dir():
        copied = copy_shared(args.shared, data_dir)
        print(f"data: copied {len(copied)} files from {args.shared}" if copied else f"data: {data_dir} is complete")
    if not _present(data_dir / MOVIELENS, MOVIELENS_FILES):
        download_movielens(data_dir)
    if not _present(data_dir / TMDB, TMDB_FILES):
        print(TMDB_HELP.format(target=data_dir / TMDB), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
