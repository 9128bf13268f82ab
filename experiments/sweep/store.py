"""DIR of a sweep: DIR/sweep.json (what was asked), DIR/results.jsonl and DIR/results.csv (one
row per finished cell, appended as cells finish), DIR/summary.{json,csv} and DIR/figures/.

The results files are append-only, not staged like other outputs (experiments.outputs.Staged
publishes a run's files together at its end): a sweep of many cells must keep every finished
cell when it is interrupted or crashes, so each row is one write of a whole line, flushed and
fsync'ed before the next cell is recorded. A crash can leave at most a partial last line, which
the next run detects and drops (results.jsonl is the record; results.csv is rebuilt from it when
a sweep resumes, and when a row brings a column the header lacks). sweep.json and the summaries
are written atomically (write_atomic).

Resume: the same subcommand and grid into the same DIR skip the cells already finished (status
ok, claims_failed or error: a diverged seed diverges again); internal errors, e.g. a worker that
died, are run again, and the later row supersedes the earlier. A different grid or subcommand is
refused unless --force, which starts afresh (the sweep's own files are removed; others are left).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fourier_circuits.experiments.outputs import check_out, json_file, write_atomic
from fourier_circuits.experiments.sweep.cells import Plan
from fourier_circuits.theory import FourierCircuitsError

#: A finished cell has one of these statuses; others (internal_error) run again on resume.
FINISHED = ("ok", "claims_failed", "error")
RECORD, JSONL, CSV = "sweep.json", "results.jsonl", "results.csv"
#: The files a sweep writes into DIR (--force removes these, and only these).
OWN = (RECORD, JSONL, CSV, "summary.json", "summary.csv")
FORMAT = 1


def record_of(plan: Plan) -> dict[str, Any]:
    """What DIR/sweep.json holds: a resumed sweep must have the same subcommand and grid."""
    return {
        "format": FORMAT,
        "subcommand": plan.subcommand,
        "grid": plan.grid.as_dict(),
        "cells": len(plan.cells),
    }


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, allow_nan=False)  # numbers as repr, true/false, lists as JSON


def _csv_lines(columns: list[str], rows: Iterable[dict[str, Any]], *, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_text(row.get(column)) for column in columns])
    return buffer.getvalue()


def _append(path: Path, text: str) -> None:
    """One write of whole lines, flushed to the disk before returning."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:  # a full disk, say: the rows before this one are safe
        raise FourierCircuitsError(f"cannot write {str(path)!r}: {err.strerror or err}") from None


def read_rows(path: Path, *, cut: bool) -> list[dict[str, Any]]:
    """The rows of results.jsonl; a partial last line (a crash mid-write) is ignored, and with
    cut removed from the file. Any other line that is not a row means the file was edited:
    refused."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise FourierCircuitsError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    end = data.rfind(b"\n") + 1
    if cut and end < len(data):  # the last line was being written when the sweep stopped
        try:
            os.truncate(path, end)
        except OSError as err:
            raise FourierCircuitsError(
                f"cannot repair {str(path)!r}: {err.strerror or err}"
            ) from None
    rows = []
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("cell"), int):
            raise FourierCircuitsError(
                f"{str(path)!r} line {number} is not a sweep row; the file was edited (pass "
                "--force to start the sweep afresh)"
            )
        rows.append(row)
    return rows


class Results:
    """The results of a sweep in DIR (None: kept in memory only): `rows`, the latest row of
    each cell; `done`, the cells that need not run again; append(row) records a finished cell."""

    def __init__(self, out: Path | None, plan: Plan, *, force: bool) -> None:
        self.out = out
        self.latest: dict[int, dict[str, Any]] = {}
        self.columns: list[str] = []
        self.record, self.fresh = record_of(plan), True
        if out is None:
            return
        self.fresh = _check_dir(out, self.record, force=force)
        if not self.fresh:
            try:
                rows = read_rows(out / JSONL, cut=False)
            except FourierCircuitsError:
                if not force:
                    raise
                rows, self.fresh = [], True  # an edited record: --force starts afresh
            for row in rows:
                if 0 <= row["cell"] < len(plan.cells):
                    self.latest[row["cell"]] = row

    def start(self) -> None:
        """Make DIR ready for rows (nothing is written before this: a sweep refused up front,
        e.g. for an unreachable scheduler, leaves no trace): created if missing; a fresh sweep's
        own files removed and sweep.json written; a resumed one's partial last line cut off and
        results.csv rebuilt from results.jsonl."""
        if self.out is None:
            return
        _make_dir(self.out)
        if self.fresh:
            _remove_own(self.out)
            write_atomic(self.out / RECORD, json_file(self.record))
        else:
            read_rows(self.out / JSONL, cut=True)
        self._rewrite_csv()

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [self.latest[index] for index in sorted(self.latest)]

    @property
    def done(self) -> set[int]:
        return {index for index, row in self.latest.items() if row.get("status") in FINISHED}

    def append(self, row: dict[str, Any]) -> None:
        self.latest[row["cell"]] = row
        if self.out is None:
            return
        _append(self.out / JSONL, json.dumps(row, allow_nan=False) + "\n")
        if any(key not in self.columns for key in row):
            self._rewrite_csv()
        else:
            _append(self.out / CSV, _csv_lines(self.columns, [row], header=False))

    def _rewrite_csv(self) -> None:
        """results.csv from every row, with every column any row has (axes first)."""
        assert self.out is not None
        columns: dict[str, None] = dict.fromkeys(self.columns)
        for row in self.rows:
            columns.update(dict.fromkeys(row))
        self.columns = list(columns)
        text = _csv_lines(self.columns, self.rows, header=True) if self.columns else ""
        write_atomic(self.out / CSV, text.encode())


def _check_dir(out: Path, record: dict[str, Any], *, force: bool) -> bool:
    """Check DIR without writing: missing, empty, or a sweep's of the same record (resumed:
    False), else refused; with force, a sweep's of another record or a non-empty directory that
    is no sweep's start afresh (True). A DIR that is not a directory is refused always."""
    try:
        st = os.stat(out)  # a link to a directory is that directory
    except FileNotFoundError:
        check_out(out, force=False)  # the parent exists and is writable; out is not the cwd
        return True
    except OSError as err:
        raise FourierCircuitsError(f"--out {str(out)!r}: {err.strerror or err}") from None
    if not stat.S_ISDIR(st.st_mode):
        check_out(out, force=False)  # names what it is (a file, a FIFO, a device) and refuses
        raise FourierCircuitsError(f"--out {str(out)!r} exists and is not a directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise FourierCircuitsError(f"--out {str(out)!r} is not a writable directory")
    previous = _read_record(out, force=force)
    if previous is None:
        if not force and _non_empty(out):
            raise FourierCircuitsError(
                f"--out {str(out)!r} is not empty and holds no {RECORD} (not a sweep's "
                "directory); give a new or empty directory, or pass --force to write there"
            )
        return True
    if previous == record:
        return False
    if not force:
        raise FourierCircuitsError(
            f"--out {str(out)!r} holds a sweep of another grid or subcommand "
            f"({previous.get('subcommand')} {_spec(previous)}); resume it with the same --grid, "
            "give a new directory, or pass --force to start afresh there"
        )
    return True


def _non_empty(out: Path) -> bool:
    with os.scandir(out) as entries:
        return any(True for _ in entries)


def _make_dir(out: Path) -> None:
    try:
        os.mkdir(out)
    except FileExistsError:
        pass
    except OSError as err:
        raise FourierCircuitsError(f"--out {str(out)!r}: {err.strerror or err}") from None


def _remove_own(out: Path) -> None:
    """The sweep's own files (OWN, figures/*.png of a previous sweep), nothing else."""
    figures = out / "figures"
    targets = [out / name for name in OWN]
    if figures.is_dir():
        targets += sorted(figures.glob("*.png"))
    for target in targets:
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise FourierCircuitsError(
                f"cannot remove {str(target)!r}: {err.strerror or err}"
            ) from None


def _spec(record: dict[str, Any]) -> str:
    grid = record.get("grid")
    if not isinstance(grid, dict):
        return "?"
    return repr(";".join(f"{axis}={','.join(map(str, values))}" for axis, values in grid.items()))


def _read_record(out: Path, *, force: bool) -> dict[str, Any] | None:
    """DIR/sweep.json, None when there is none (or, with force, when it is unreadable)."""
    try:
        text = (out / RECORD).read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise FourierCircuitsError(f"cannot read {str(out / RECORD)!r}: {err}") from None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        if force:
            return None
        raise FourierCircuitsError(
            f"{str(out / RECORD)!r} is not a sweep record; pass --force to start afresh"
        )
    return record
