"""One job runner for every command: plan, resume, run on an engine, commit, report."""

from occlude.runner.engines import (
    Engine,
    PoolEngine,
    SerialEngine,
    choose_engine,
    default_workers,
)
from occlude.runner.job import Job, Plan, Tick, Unit, UnitResult
from occlude.runner.ledger import Ledger, LedgerState
from occlude.runner.run import Outcome, Runner, RunReport

__all__ = [
    "Engine",
    "Job",
    "Ledger",
    "LedgerState",
    "Outcome",
    "Plan",
    "PoolEngine",
    "RunReport",
    "Runner",
    "SerialEngine",
    "Tick",
    "Unit",
    "UnitResult",
    "choose_engine",
    "default_workers",
]
