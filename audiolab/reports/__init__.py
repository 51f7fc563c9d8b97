"""``audiolab reports``: run the course notebooks with papermill and (re)generate ``reports/``.

* :mod:`audiolab.reports.run` -- running the notebooks into a staging folder, resuming, swapping it
  into place, and the ``audiolab reports`` command;
* :mod:`audiolab.reports.readme` -- the generated ``README.md``: markdown tables, hardware, training time.

The names below are re-exported, so ``from audiolab import reports; reports.run_reports(...)`` works.
"""
from __future__ import annotations

from .readme import comparison_markdown, hardware_info, markdown_table
from .run import NOTEBOOKS, ReportError, default_output, notebooks_dir, reports_command, run_reports

__all__ = [
    "NOTEBOOKS",
    "ReportError",
    "notebooks_dir",
    "default_output",
    "run_reports",
    "reports_command",
    "hardware_info",
    "markdown_table",
    "comparison_markdown",
]
