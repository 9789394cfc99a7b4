"""The one exception type the trainer raises for bad input data.

A training run fails long after the data was written, often on a machine where the
person reading the log cannot open the file. So the error itself must say where to
look: which file, which line as an editor numbers it (the header is line 1), which
column, and what was expected instead of what was found.
"""

from __future__ import annotations

from pathlib import Path

HEADER_LINE = 1  # the line a missing-column error points at


class DataError(ValueError):
    """A data file is missing or does not hold what the trainer needs.

    `row` is the line number a person would count in the file (header = line 1,
    first data row = line 2); `None` when the problem is the file as a whole.
    """

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.row = row
        self.column = column
        self.message = message
        super().__init__(str(self))

    @property
    def line(self) -> int | None:
        """Alias of `row`, for readers who think in editor lines."""
        return self.row

    def __str__(self) -> str:
        where = self.path.name
        if self.row is not None:
            where += f" line {self.row}"
        if self.column is not None:
            separator = "," if self.row is not None else ""
            where += f"{separator} column '{self.column}'"
        return f"{where}: {self.message}"

    def __reduce__(self):  # keep the keyword-only fields across pickling (multiprocessing)
        return (_rebuild, (str(self.path), self.message, self.row, self.column))


def _rebuild(path: str, message: str, row: int | None, column: str | None) -> DataError:
    return DataError(path, message, row=row, column=column)
