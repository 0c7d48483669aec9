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
  "complete"}``: the unit finished; its files were written (atomically) before this line;
* ``{"event": "owns", "key", "outputs": [rel, ...]}``: who owns these files, nothing more:
  a run claims every file it may write when it starts (a unit's outputs under the unit's
  key, whole-run outputs such as ``robustness.json`` under the command's name), and
  compaction keeps the owner of every file whose other events it drops;
* ``{"event": "failed", "key", "source", "message"}``: the unit failed.

A unit is finished when its key's newest event is ``done`` with the same fingerprint and
``complete``, and every planned output's newest event is that one, with a file of the
recorded size on disk. A file's owner is the key of the newest event that lists it; a run
refuses, before it writes anything, to write a file that exists and that another unit or
command owns (:func:`check_owners`).

Lines are read back through :func:`occlude.runner.events.read_events`, which refuses
any line that is not what occlude writes; :func:`read_state` warns once about them, and
compaction drops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from occlude.errors import UsageError
from occlude.imageio import remove_stale_temporaries, set_run_tag, write_bytes
from occlude.runner.events import read_events
from occlude.runner.state import (
    STATE_DIR,
    RunLock,
    folder_lock,
    new_run_id,
    run_is_live,
)
from occlude.text import shown

COMPACTED = "ledger.jsonl"


@dataclass
class LedgerState:
    """The newest event per unit key and per output (relative path), each output's
    owner, and how many lines were refused while reading."""

    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_output: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: int = 0

    def add(self, event: dict[str, Any]) -> None:
        if event["event"] != "owns":
            self.by_key[event["key"]] = event
            for rel in event.get("outputs", ()):
                self.by_output[rel] = event
        for rel in event.get("outputs", ()):
            self.owners[rel] = event

    def owner(self, rel: str) -> str | None:
        """The key of the unit (or the name of the command) that owns output ``rel``."""
        event = self.owners.get(rel)
        return None if event is None else str(event["key"])

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
    """The ledger of ``out_dir`` as it stands, read-only (no lock, no run).

    Lines that are not what occlude writes (edited by hand, damaged) are skipped, with
    one warning that says how many.
    """
    state = _load(out_dir)
    if state.refused:
        many = "entry" if state.refused == 1 else "entries"
        warnings.warn(
            f"{shown(out_dir / STATE_DIR)}: skipped {state.refused} ledger {many} that "
            "occlude did not write (edited by hand or damaged)",
            stacklevel=2,
        )
    return state


def _load(out_dir: Path) -> LedgerState:
    """:func:`read_state` without the warning (a run reads its ledger several times)."""
    state_dir = out_dir / STATE_DIR
    events, refused = read_events(state_dir / COMPACTED)
    runs = state_dir / "runs"
    for part in sorted(runs.glob("*.jsonl")) if runs.is_dir() else []:
        more, bad = read_events(part)
        events.extend(more)
        refused += bad
    state = LedgerState(refused=refused)
    for event in sorted(events, key=_order):
        state.add(event)
    return state


def _order(event: Mapping[str, Any]) -> tuple[int, str, int]:
    return (int(event["t"]), str(event.get("run", "")), int(event.get("seq", 0)))


class Ledger:
    """This run's view of ``<out>/.occlude``: read the state, append events, compact.

    Creating one starts a run: it takes a run id and its lock, names this process's
    temporary files after it, clears temporary files that finished or killed runs left
    under ``out_dir``, compacts the parts of runs that are over, and claims the files the
    run may write: ``claims`` maps each owner (a unit's key, or the command's name for
    whole-run outputs) to its relative paths.

    Raises:
        UsageError: another unit or command owns one of the claimed files
            (:func:`check_owners`); the run is then over before it began.
    """

    def __init__(self, out_dir: Path, claims: Mapping[str, Iterable[str]] | None = None) -> None:
        self.out_dir = out_dir
        self.state_dir = out_dir / STATE_DIR
        self.created = not self.state_dir.exists()
        self.created_out = not out_dir.exists()
        self.run_id = new_run_id()
        self.lock = RunLock(self.state_dir, self.run_id)
        set_run_tag(self.run_id)
        self._part: IO[str] | None = None
        self._seq = 0
        self.state = LedgerState()
        try:
            remove_stale_temporaries(out_dir, self.is_live)
            self.state = self.compact(claims=claims or {})
        except BaseException:
            self.close()
            raise

    # --- reading --------------------------------------------------------------------

    def is_live(self, run_id: str) -> bool:
        return run_id == self.run_id or run_is_live(self.state_dir, run_id)

    def _parts(self) -> list[Path]:
        folder = self.state_dir / "runs"
        return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []

    def read(self) -> LedgerState:
        """Every event of every run so far (compacted and parts), newest winning."""
        return _load(self.out_dir)

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
        events = list(events)
        if not events:
            return
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

    def compact(
        self, closing: bool = False, claims: Mapping[str, Iterable[str]] | None = None
    ) -> LedgerState:
        """Fold the parts of runs that are over (ours too when ``closing``) into
        ``ledger.jsonl``; claim ``claims`` (owner -> paths) after checking them; return
        the merged state."""
        with folder_lock(self.state_dir):
            state = self.read()
            if claims:
                check_owners(state, self.out_dir, claims, self.is_live)
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
            if claims:
                self.state = state
                self._append(_claim_events(state, claims))
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


def check_owners(
    state: LedgerState,
    out_dir: Path,
    claims: Mapping[str, Iterable[str]],
    is_live: Callable[[str], bool] | None = None,
) -> None:
    """Refuse claims (owner -> relative paths) on files that another unit or command
    owns: files that exist in ``out_dir``, and with ``is_live`` (run id -> whether that
    run still goes) files that a live run has claimed and not written yet.

    Raises:
        UsageError: naming the file, its owner and the claimant.
    """
    for key, rels in claims.items():
        for rel in rels:
            event = state.owners.get(rel)
            if event is None or event["key"] == key:
                continue
            holder, mine = _who(event["key"]), _who(key)
            if os.path.lexists(out_dir / rel):
                what = (f"{holder} wrote this file and owns it; {mine} would overwrite it: "
                        "choose another out_dir, or move the file away first")  # fmt: skip
            elif is_live is not None and is_live(str(event.get("run", ""))):
                what = (f"a run of {holder} that is still going will write this file; so "
                        f"would {mine}: choose another out_dir")  # fmt: skip
            else:
                continue  # nothing there, nobody writing it: nothing to lose
            raise UsageError(f"{shown(out_dir / rel)}: {what}", "out_dir")


def _who(key: str) -> str:
    """An owner as messages name it: a unit by its key, a command by its name."""
    return f"unit {shown(key)}" if ":" in key else f"the {shown(key)} command"


def _claim_events(state: LedgerState, claims: Mapping[str, Iterable[str]]) -> list[dict[str, Any]]:
    """``owns`` events for the claimed files that someone else owns or nobody does yet."""
    found = []
    for key, rels in claims.items():
        new = [rel for rel in rels if state.owner(rel) != key]
        if new:
            found.append({"event": "owns", "key": key, "outputs": new})
    return found


def _compacted(state: LedgerState) -> list[dict[str, Any]]:
    """The ``done`` events still current, each with only the outputs it still owns, and
    ``owns`` events for every other file that has an owner."""
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
    kept = {id(state.by_key[e["key"]]) for e in keep}
    claims: dict[int, tuple[dict[str, Any], list[str]]] = {}
    for rel, event in state.owners.items():
        if id(event) not in kept:  # a kept done event lists the files it owns
            claims.setdefault(id(event), (event, []))[1].append(rel)
    for event, rels in claims.values():
        stamp: dict[str, Any] = {k: event[k] for k in ("t", "run", "seq") if k in event}
        keep.append({**stamp, "event": "owns", "key": event["key"], "outputs": sorted(rels)})
    return sorted(keep, key=_order)
