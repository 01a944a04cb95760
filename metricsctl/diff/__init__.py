"""What a pull request changes in the metrics: `metricsctl diff --base origin/main`.

    result = diff("path/to/project", base="origin/main")          # head: the working tree
    print(render(result, "markdown"))                            # or "json"
    sys.exit(exit_code(result, allow_breaking=False))            # 1 when something breaks consumers

Both sides are copied out of git into a temp dir (the user's work tree, branches and warehouse are never
touched) and parsed there. The result holds the definition changes field by field (semantic.py), what
they reach downstream in the lineage graph and which of them break consumers (impact.py), the diff of
the generated models (sql.py), and, unless `values=False`, the affected metrics and exports compared
after building both sides into throw-away DuckDB warehouses (values.py).
"""

from __future__ import annotations

from metricsctl.diff.errors import DiffError, NotAGitRepository, RefSpecError, UnknownRefError
from metricsctl.diff.git import Revision
from metricsctl.diff.impact import Affected, Breaking, breaking_changes, downstream
from metricsctl.diff.render import FORMATS, render, render_json, render_markdown
from metricsctl.diff.result import DiffResult, exit_code
from metricsctl.diff.run import diff
from metricsctl.diff.semantic import Change, FieldChange, SemanticDiff, Side, diff_specs, side
from metricsctl.diff.snapshot import BuildSummary
from metricsctl.diff.sql import ModelDiff, diff_models
from metricsctl.diff.values import ValueDiff, ValueRow

__all__ = [
    "FORMATS", "Affected", "Breaking", "BuildSummary", "Change", "DiffError", "DiffResult", "FieldChange",
    "ModelDiff", "NotAGitRepository", "RefSpecError", "Revision", "SemanticDiff", "Side", "UnknownRefError",
    "ValueDiff", "ValueRow", "breaking_changes", "diff", "diff_models", "diff_specs", "downstream", "exit_code",
    "render", "render_json", "render_markdown", "side",
]
