"""The resume ledger: what every run into an output folder finished, and with what settings.

One ledger serves every command. It lives in ``<out>/.occlude/``: each run appends events
to its own part, ``runs/<run id>.jsonl``, so concurrent runs (two commands, or the N shards
of one) never write the same file; ``ledger.jsonl`` holds the compacted events of runs that
are over. Readers merge everything, newest event first.

Events (one JSON object per line):

* ``{"event": "started", "key", "outputs": [rel, ...]}``: a unit is about to (re)write
  these outputs; it withdraws their earlier records, so a run killed half-way never leaves
  an old record vouching for a new, different file;
* ``{"event": "done", "key", "fingerprint", "record", "outputs": {rel: {"size", "record"}},
  "complete"}``: the unit finished; its files were written (atomically) before this line.

A unit is finished when its key's newest event is ``done`` with the same fingerprint and
``complete``, and every planned output's newest event is that one, with a file of the
recorded size on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from occlude.imageio import remove_stale_temporaries, set_run_tag, write_bytes
from occlude.runner.state import (
    STATE_DIR,
    RunLock,
    folder_lock,
    new_run_id,
    run_is_live,
)

COMPACTED = "ledger.jsonl"


@dataclass
class LedgerState:
    """The newest event per unit key and per output (relative path)."""

    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_output: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> None:
        self.by_key[event["key"]] = event
        for rel in event.get("outputs", ()):
            self.by_output[rel] = event

    def current(self, key: str) -> dict[str, Any] | None:
        """The unit's newest event if it is a ``done`` one, else None."""
        event = self.by_key.get(key)
        return event if event is not None and event["event"] == "done" else None

    def output_records(self, out_dir: Path) -> list[dict[str, Any]]:
        """Per-output records whose file exists and was not withdrawn, by output path."""
        found = []
        for rel in sorted(self.by_output):
            event = self.by_output[rel]
            if event["event"] != "done" or not (out_dir / rel).is_file():
                continue
            record = event["outputs"][rel].get("record")
            if record is not None:
                found.append(record)
        return found

    def failures(self, prefix: str = "") -> list[dict[str, Any]]:
        """``{"key", "source", "message"}`` of units whose newest event is a failure."""
        return [
            {"key": k, "source": e.get("source"), "message": e.get("message")}
            for k, e in sorted(self.by_key.items())
            if k.startswith(prefix) and e["event"] == "failed"
        ]

    def unit_records(self, prefix: str = "") -> list[dict[str, Any]]:
        """Unit-level records of every finished unit whose key starts with ``prefix``."""
        return [
            e["record"]
            for k, e in sorted(self.by_key.items())
            if k.startswith(prefix) and e["event"] == "done" and e.get("record") is not None
        ]


def read_state(out_dir: Path) -> LedgerState:
    """The ledger of ``out_dir`` as it stands, read-only (no lock, no run)."""
    state_dir = out_dir / STATE_DIR
    events = list(_read_events(state_dir / COMPACTED))
    runs = state_dir / "runs"
    for part in sorted(runs.glob("*.jsonl")) if runs.is_dir() else []:
        events.extend(_read_events(part))
    state = LedgerState()
    for event in sorted(events, key=_order):
        state.add(event)
    return state


def _read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Events of a JSON-lines file; a line cut short by a kill is skipped."""
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("key"), str) and "t" in event:
            yield event


def _order(event: Mapping[str, Any]) -> tuple[int, str, int]:
    return (int(event["t"]), str(event.get("run", "")), int(event.get("seq", 0)))


class Ledger:
    """This run's view of ``<out>/.occlude``: read the state, append events, compact.

    Creating one starts a run: it takes a run id and its lock, names this process's
    temporary files after it, clears temporary files that finished or killed runs left
    under ``out_dir``, and compacts the parts of runs that are over.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.state_dir = out_dir / STATE_DIR
        self.created = not self.state_dir.exists()
        self.created_out = not out_dir.exists()
        self.run_id = new_run_id()
        self.lock = RunLock(self.state_dir, self.run_id)
        set_run_tag(self.run_id)
        self._part: IO[str] | None = None
        self._seq = 0
        remove_stale_temporaries(out_dir, self.is_live)
        self.state = self.compact()

    # --- reading --------------------------------------------------------------------

    def is_live(self, run_id: str) -> bool:
        return run_id == self.run_id or run_is_live(self.state_dir, run_id)

    def _parts(self) -> list[Path]:
        folder = self.state_dir / "runs"
        return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []

    def read(self) -> LedgerState:
        """Every event of every run so far (compacted and parts), newest winning."""
        return read_state(self.out_dir)

    def finished(self, key: str, fingerprint: str, outputs: Sequence[str]) -> dict[str, Any] | None:
        """The ``done`` event of a finished unit with this fingerprint, else None."""
        event = self.state.current(key)
        if event is None or event.get("fingerprint") != fingerprint or not event.get("complete"):
            return None
        for rel in outputs:
            info = event["outputs"].get(rel)
            if info is None or self.state.by_output.get(rel) is not event:
                return None
            try:
                if os.stat(self.out_dir / rel).st_size != info["size"]:
                    return None
            except OSError:
                return None
        return event

    # --- writing --------------------------------------------------------------------

    def _append(self, events: Iterable[dict[str, Any]]) -> None:
        if self._part is None:
            path = self.state_dir / "runs" / f"{self.run_id}.jsonl"
            self._part = open(path, "a", encoding="ascii")  # noqa: SIM115
        lines = []
        for event in events:
            self._seq += 1
            event = {"t": time.time_ns(), "run": self.run_id, "seq": self._seq, **event}
            self.state.add(event)
            lines.append(_line(event))
        self._part.write("".join(lines))
        self._part.flush()

    def started(self, key: str, outputs: Sequence[str]) -> None:
        self._append([{"event": "started", "key": key, "outputs": list(outputs)}])

    def failed(self, key: str, source: str, message: str) -> None:
        """The unit failed (the report lists it; a later success replaces it)."""
        self._append([{"event": "failed", "key": key, "source": source, "message": message}])

    def done(
        self,
        key: str,
        fingerprint: str,
        record: dict[str, Any] | None,
        outputs: Mapping[str, dict[str, Any] | None],
        complete: bool,
    ) -> None:
        """Commit a unit whose ``outputs`` (rel -> per-output record) are on disk."""
        files = {}
        for rel, rec in outputs.items():
            with contextlib.suppress(OSError):
                files[rel] = {"size": os.stat(self.out_dir / rel).st_size, "record": rec}
        event = {
            "event": "done",
            "key": key,
            "fingerprint": fingerprint,
            "record": record,
            "outputs": files,
            "complete": complete and len(files) == len(outputs),
        }
        self._append([event])

    # --- compaction -----------------------------------------------------------------

    def compact(self, closing: bool = False) -> LedgerState:
        """Fold the parts of runs that are over (ours too when ``closing``) into
        ``ledger.jsonl``; return the merged state."""
        with folder_lock(self.state_dir):
            state = self.read()
            parts = self._parts()
            live = {
                p.stem
                for p in parts
                if self.is_live(p.stem) and not (closing and p.stem == self.run_id)
            }
            keep = [e for e in _compacted(state) if e.get("run") not in live]
            body = "".join(_line(e) for e in keep)
            write_bytes(self.state_dir / COMPACTED, body.encode("ascii"))
            for part in parts:
                if part.stem not in live:
                    with contextlib.suppress(OSError):
                        part.unlink()
        return state

    def close(self) -> None:
        """End the run: fold our events in, release the run lock."""
        if self._part is not None:
            self._part.close()
            self._part = None
        try:
            self.state = self.compact(closing=True)
        finally:
            self.lock.release()
        if self.created and not self.state.by_key and not self._parts():
            # a run that stopped before any work (a usage error found once the model
            # loaded) leaves no state behind
            shutil.rmtree(self.state_dir, ignore_errors=True)
            if self.created_out:
                with contextlib.suppress(OSError):
                    self.out_dir.rmdir()  # only if nothing else was written there


def _line(event: dict[str, Any]) -> str:
    """One event as a JSON line (ASCII, strict; records keep their key order)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=True, allow_nan=False) + "\n"


def _compacted(state: LedgerState) -> list[dict[str, Any]]:
    """The ``done`` events still current, each with only the outputs it still owns."""
    keep = []
    for event in state.by_key.values():
        if event["event"] == "failed":
            keep.append(event)
            continue
        if event["event"] != "done":
            continue
        owned = {rel: v for rel, v in event["outputs"].items() if state.by_output.get(rel) is event}
        if event["outputs"] and not owned:
            continue
        complete = bool(event.get("complete")) and len(owned) == len(event["outputs"])
        keep.append({**event, "outputs": owned, "complete": complete})
    return sorted(keep, key=_order)
