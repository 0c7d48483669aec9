"""``occlude report``: a static HTML page of an output folder's results.

:func:`build_report` reads the folder's ledger (sensitivity records, failed inputs) and
its ``robustness.json``, and writes ``index.html`` plus ``report/`` (data, script, style,
thumbnails) there: a gallery of maps to sort and filter, the failures, and the robustness
table and plot. The page works from ``file://`` and needs no network.
"""

from __future__ import annotations

from occlude.report.build import Built, build, build_report

__all__ = ["Built", "build", "build_report"]
