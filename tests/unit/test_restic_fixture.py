"""restic's retention fixture: parity with restic's own results, and a golden plan per policy.

``golden/restic/`` holds restic's 103-snapshot fixture (several a day on some days, gaps of
more than a month, the same months in 2014 and 2015) with restic's golden keep sets (see the
README there). The plans must agree with restic for every policy this project can express.
The same versions, plus four uploads that did not succeed, also feed one golden plan per
policy in ``golden/policies/``; ``UPDATE_GOLDEN=1`` rewrites those files.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from domo_versions_iac.domo.models import DataVersion, UploadStatus, format_instant
from domo_versions_iac.policy import Plan, PolicyError, RetentionPolicy, plan_retention

GOLDEN = Path(__file__).parent / "golden"
RESTIC = json.loads((GOLDEN / "restic" / "policy_keep_snapshots.json").read_text("utf-8"))
CASES: dict[int, dict[str, Any]] = {c["restic_index"]: c for c in RESTIC["cases"]}
POLICY_DIR = GOLDEN / "policies"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def version(data_id: int, recorded: datetime, status: UploadStatus = "success") -> DataVersion:
    return DataVersion(
        data_id=data_id,
        schema_id=1,
        upload_status=status,
        recorded_date=recorded,
        upload_completed_date=None if status == "processing" else recorded,
        num_rows=1000 + data_id,
        num_bytes=100_000 + data_id,
    )


def restic_versions() -> list[DataVersion]:
    """restic's snapshots as successful versions; ids ascend with time, as Domo's do."""
    times = [at(t) for t in RESTIC["snapshots"]]
    order = sorted(range(len(times)), key=lambda i: (times[i], i))
    return [version(rank, times[i]) for rank, i in enumerate(order, start=1)]


NEWEST = max(at(t) for t in RESTIC["snapshots"])  # 2016-01-18T12:02:03Z

# restic's test policies (by index in its TestApplyPolicy), as restic writes them and in
# this project's terms. restic's keep-within counts from its newest snapshot.
EXPRESSIBLE: dict[int, tuple[str, dict[str, Any]]] = {
    1: ("{Last: 10}", {"keep_last": 10}),
    2: ("{Last: 15}", {"keep_last": 15}),
    3: ("{Last: 99}", {"keep_last": 99}),
    4: ("{Last: 200}", {"keep_last": 200}),
    6: ("{Daily: 3}", {"keep_daily": 3}),
    7: ("{Daily: 10}", {"keep_daily": 10}),
    8: ("{Daily: 30}", {"keep_daily": 30}),
    9: ("{Last: 5, Daily: 5}", {"keep_last": 5, "keep_daily": 5}),
    10: ("{Last: 2, Daily: 10}", {"keep_last": 2, "keep_daily": 10}),
    11: ("{Weekly: 2}", {"keep_weekly": 2}),
    12: ("{Weekly: 4}", {"keep_weekly": 4}),
    13: ("{Daily: 3, Weekly: 4}", {"keep_daily": 3, "keep_weekly": 4}),
    14: ("{Monthly: 6}", {"keep_monthly": 6}),
    15: (
        "{Daily: 2, Weekly: 2, Monthly: 6}",
        {"keep_daily": 2, "keep_weekly": 2, "keep_monthly": 6},
    ),
    16: ("{Yearly: 10}", {"keep_yearly": 10}),
    17: (
        "{Daily: 7, Weekly: 2, Monthly: 3, Yearly: 10}",
        {"keep_daily": 7, "keep_weekly": 2, "keep_monthly": 3, "keep_yearly": 10},
    ),
    **{
        index: (f'{{Within: data.ParseDurationOrPanic("{restic}")}}', {"keep_within": ours})
        for index, restic, ours in (
            (21, "1d", "1d"),
            (22, "2d", "2d"),
            (23, "7d", "7d"),
            (24, "1m", "1m"),
            (25, "1m14d", "1m14d"),
            (26, "1y1d1m", "1y1m1d"),  # units are written largest first here
            (27, "13d23h", "13d23h"),
            (28, "2m2h", "2m2h"),
            (29, "1y2m3d3h", "1y2m3d3h"),
        )
    },
}
NOT_EXPRESSIBLE: dict[int, str] = {
    0: "the empty policy, refused here",
    5: "--keep-hourly",
    **dict.fromkeys((18, 19, 20), "--keep-tag"),
    **dict.fromkeys(range(30, 36), "--keep-within-hourly/daily/weekly/monthly/yearly"),
    **dict.fromkeys(range(36, 40), "unlimited (-1) counts"),
}

_RULE_WORDS = {
    "keep_daily": "daily",
    "keep_weekly": "weekly",
    "keep_monthly": "monthly",
    "keep_yearly": "yearly",
}


def restic_reason(reason: str) -> str:
    """This project's reason in restic's words ("keep_daily 2016-01-18" -> "daily snapshot")."""
    if reason.endswith(": oldest version"):
        return f"oldest {_RULE_WORDS[reason.split(':')[0]]} snapshot"
    rule, _, rest = reason.partition(" ")
    if rule == "keep_last":
        return "last snapshot"
    if rule == "keep_within":
        return f"within {rest}"
    return f"{_RULE_WORDS[rule]} snapshot"


def test_every_restic_case_is_compared_or_known_not_expressible() -> None:
    assert not set(EXPRESSIBLE) & set(NOT_EXPRESSIBLE)
    assert set(EXPRESSIBLE) | set(NOT_EXPRESSIBLE) == set(CASES) == set(range(40))
    for index, (text, _) in EXPRESSIBLE.items():
        assert CASES[index]["restic_policy"] == text
    assert CASES[0]["restic_policy"] == "{}"
    with pytest.raises(PolicyError, match="empty policy"):
        RetentionPolicy.from_dict({})


def test_the_fixture_has_restics_shape() -> None:
    versions = restic_versions()
    days = [v.recorded_date.date() for v in versions]
    months = {(d.year, d.month) for d in days}
    ordered = sorted(days)
    gaps = [ordered[i + 1] - ordered[i] for i in range(len(ordered) - 1)]
    assert len(versions) == 103
    assert max(days.count(d) for d in days) >= 5  # several versions on one day
    assert max(g.days for g in gaps) > 31  # gaps of more than a month
    assert {(2014, 9), (2015, 9)} <= months  # the same month in different years
    assert len({d.year for d in days}) == 3


@pytest.mark.parametrize("index", sorted(EXPRESSIBLE))
def test_plans_agree_with_restics_golden_results(index: int) -> None:
    text, data = EXPRESSIBLE[index]
    policy = RetentionPolicy.from_dict({**data, "protect_latest": 0})
    plan = plan_retention(restic_versions(), policy, NEWEST)
    ours = sorted(
        (d.version.recorded_date, sorted(restic_reason(r) for r in d.reasons)) for d in plan.keep
    )
    theirs = sorted((at(t), sorted(matches)) for t, matches in CASES[index]["keep"])
    assert ours == theirs, f"restic case {index} {text}"
    assert len(plan.keep) + len(plan.delete) == len(RESTIC["snapshots"])


# --------------------------------------------------------------------------- golden plans

GOLDEN_NOW = at("2016-01-19T00:00:00Z")


def golden_versions() -> list[DataVersion]:
    """restic's snapshots plus uploads that did not succeed, newest and oldest included."""
    return [
        *restic_versions(),
        version(104, at("2016-01-18T13:00:00Z"), "error"),  # newer than every success
        version(105, at("2016-01-18T14:00:00Z"), "processing"),
        version(106, at("2015-03-01T00:00:00Z"), "error"),  # in the gap
        version(107, at("2014-08-01T00:00:00Z"), "error"),  # older than every success
    ]


GOLDEN_POLICIES: list[dict[str, Any]] = [
    *(data for _, data in EXPRESSIBLE.values()),
    {"keep_daily": 200},
    {"keep_weekly": 100, "keep_monthly": 100, "keep_yearly": 100},
    {"keep_daily": 10, "timezone": "Pacific/Auckland"},
    {"keep_weekly": 4, "timezone": "America/Los_Angeles"},
    {"keep_monthly": 12, "keep_yearly": 3, "timezone": "Asia/Kolkata"},
    {"keep_within": "1m", "keep_monthly": 24},
    {"keep_since": "2015-10-01"},
    {"allowed_versions": [1, 50, 106, 999], "keep_last": 3},
    {"keep_last": 3, "delete_failed": False},
    {"keep_yearly": 1, "protect_latest": 3},
    {
        "keep_last": 5,
        "keep_within": "2w",
        "keep_daily": 7,
        "keep_weekly": 4,
        "keep_monthly": 12,
        "keep_yearly": 5,
        "timezone": "Europe/Berlin",
    },
]


def golden_name(data: dict[str, Any]) -> str:
    """A file name from the policy: keep_daily_7-keep_weekly_2.json."""
    parts = []
    for key, value in data.items():
        text = "_".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}_{re.sub(r'[^A-Za-z0-9]+', '_', text)}")
    return "-".join(parts) + ".json"


def golden_record(plan: Plan) -> dict[str, Any]:
    """What a reviewer reads: the policy, totals, and one line per version."""
    return {
        "now": format_instant(plan.now),
        "policy": plan.policy.to_dict(),
        "policy_text": str(plan.policy),
        "summary": {
            "versions": len(plan.decisions),
            "keep": len(plan.keep),
            "delete": len(plan.delete),
        },
        "warnings": list(plan.warnings),
        "decisions": [
            f"{d.version.data_id} {format_instant(d.version.recorded_date)} "
            f"{d.version.upload_status} {d.action}: {'; '.join(d.reasons)}"
            for d in plan.decisions
        ],
    }


@pytest.mark.parametrize("data", GOLDEN_POLICIES, ids=golden_name)
def test_golden_plan_per_policy(data: dict[str, Any]) -> None:
    versions = golden_versions()
    plan = plan_retention(versions, RetentionPolicy.from_dict(data), GOLDEN_NOW)
    kept = [d.version.data_id for d in plan.keep]
    deleted = [d.version.data_id for d in plan.delete]
    # every listed version is either kept or deleted, never both, never neither
    assert sorted(kept + deleted) == sorted(v.data_id for v in versions)
    assert len(plan.decisions) == len(versions)

    record = golden_record(plan)
    path = POLICY_DIR / golden_name(data)
    if os.environ.get("UPDATE_GOLDEN"):
        POLICY_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert path.exists(), f"{path.name} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert json.loads(path.read_text("utf-8")) == record


def test_golden_files_are_exactly_the_policies() -> None:
    """Runs after the plans above, so that UPDATE_GOLDEN=1 has written every file."""
    names = [golden_name(data) for data in GOLDEN_POLICIES]
    assert len(set(names)) == len(names) >= 30
    if os.environ.get("UPDATE_GOLDEN"):
        for stale in set(p.name for p in POLICY_DIR.glob("*.json")) - set(names):
            (POLICY_DIR / stale).unlink()
    assert sorted(p.name for p in POLICY_DIR.glob("*.json")) == sorted(names)
