"""The decision core: which data versions to keep, which to delete, and why.

Pure code, no I/O. The package splits what used to be one module:

- :mod:`.durations`: Duration, parse_duration, instants and time zones;
- :mod:`.model`: RetentionPolicy and Hold, their checks and JSON form (PolicyError
  and its messages in :mod:`.errors`);
- :mod:`.calendar`: keep_daily/weekly/monthly/yearly as rows of one table;
- :mod:`.engine`: plan_retention, Plan, Decision, the budget; :mod:`.lifetimes`:
  eligible_at and the forecast behind it.

How a policy or a plan reads (English text, tables, the forecast, byte and count
formats, the Markdown reference) lives in :mod:`domo_versions_iac.cli.render`; the names
below are re-exported so ``from domo_versions_iac.policy import ...`` keeps working.
"""

from __future__ import annotations

from domo_versions_iac.policy.durations import Duration, parse_duration
from domo_versions_iac.policy.engine import (
    PLAN_FORMAT_VERSION,
    REASON_ALLOWED,
    REASON_FAILED,
    REASON_NEWEST,
    REASON_NONE,
    REASON_PROCESSING,
    Action,
    BudgetExceededError,
    Decision,
    ForecastDay,
    Plan,
    budget_violation,
    newest_first,
    plan_retention,
)
from domo_versions_iac.policy.errors import SCHEMA_NAME, PolicyError
from domo_versions_iac.policy.model import KEEP_RULES, Hold, RetentionPolicy
from domo_versions_iac.policy.wording import (
    format_bytes,
    format_count,
    policy_reference,
    render_forecast,
)

__all__ = [
    "KEEP_RULES",
    "PLAN_FORMAT_VERSION",
    "REASON_ALLOWED",
    "REASON_FAILED",
    "REASON_NEWEST",
    "REASON_NONE",
    "REASON_PROCESSING",
    "SCHEMA_NAME",
    "Action",
    "BudgetExceededError",
    "Decision",
    "Duration",
    "ForecastDay",
    "Hold",
    "Plan",
    "PolicyError",
    "RetentionPolicy",
    "budget_violation",
    "format_bytes",
    "format_count",
    "newest_first",
    "parse_duration",
    "plan_retention",
    "policy_reference",
    "render_forecast",
]
