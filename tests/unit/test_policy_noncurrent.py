"""keep_noncurrent_within (issue 25): a version's age counts from when it was replaced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner

from domo_versions_iac.cli.main import cli
from domo_versions_iac.domo.models import DataVersion, UploadStatus, format_instant
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.policy import Plan, PolicyError, RetentionPolicy, plan_retention

UTC = timezone.utc
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def issue_example() -> list[DataVersion]:
    """Versions 1..10, version i recorded (11 - i) days and 2 hours before NOW."""
    return [
        DataVersion(i, 1, "success", NOW - timedelta(days=11 - i, hours=2), NOW, 10 * i, 1000 * i)
        for i in range(1, 11)
    ]


def plan(versions: list[DataVersion], now: datetime = NOW, **policy: Any) -> Plan:
    return plan_retention(versions, RetentionPolicy.from_dict(policy), now)


def kept(p: Plan) -> list[int]:
    return sorted(d.version.data_id for d in p.keep)


def reasons(p: Plan) -> dict[int, tuple[str, ...]]:
    return {d.version.data_id: d.reasons for d in p.decisions}


def eligible(p: Plan) -> dict[int, str | None]:
    return {
        row["data_id"]: row["eligible_at"]
        for row in p.to_dict()["versions"]
        if row["decision"] == "keep"
    }


def test_the_issue_example_keeps_what_was_replaced_in_the_last_3_days() -> None:
    versions = issue_example()
    p = plan(versions, keep_noncurrent_within="3d")
    assert kept(p) == [8, 9, 10]
    r = reasons(p)
    assert r[10] == ("keep_noncurrent_within 3d: current version", "protected: latest #1")
    assert r[9] == ("keep_noncurrent_within 3d: replaced by 10 at 2024-03-09T10:00:00Z",)
    assert r[8] == ("keep_noncurrent_within 3d: replaced by 9 at 2024-03-08T10:00:00Z",)
    assert r[7] == ("no rule keeps it",)
    # 8 goes when its replacement (9, recorded 2024-03-08T10:00Z) is 3 days old
    nine = next(v for v in versions if v.data_id == 9)
    assert eligible(p) == {
        10: None,
        9: "2024-03-12T10:00:00Z",
        8: "2024-03-11T10:00:00Z",
    }
    assert eligible(p)[8] == (nine.recorded_date + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # keep_within counts from the upload instead: 8 is 3 days and 2 hours old, so it goes
    assert kept(plan(versions, keep_within="3d")) == [9, 10]


def test_the_version_goes_exactly_after_its_replacement_instant_plus_the_duration() -> None:
    versions = issue_example()
    goes = datetime(2024, 3, 11, 10, 0, tzinfo=UTC)  # 9's recorded date + 3 days
    assert 8 in kept(plan(versions, goes, keep_noncurrent_within="3d"))  # at the cutoff: kept
    assert 8 not in kept(
        plan(versions, goes + timedelta(microseconds=1), keep_noncurrent_within="3d")
    )


def test_the_forecast_deletes_each_version_on_the_day_its_replacement_ages_out() -> None:
    p = plan(issue_example(), keep_noncurrent_within="3d")
    days = {day.day: sorted(v.data_id for v in day.versions) for day in p.forecast(5)}
    assert days == {0: [1, 2, 3, 4, 5, 6, 7], 1: [8], 2: [9], 3: [], 4: [], 5: []}


def version(data_id: int, hours_ago: int, status: UploadStatus = "success") -> DataVersion:
    recorded = NOW - timedelta(hours=hours_ago)
    completed = None if status == "processing" else recorded
    return DataVersion(data_id, 1, status, recorded, completed, 1, 1)


def test_failed_and_processing_uploads_never_replace_a_version() -> None:
    versions = [
        version(1, 24 * 40),  # replaced by 4, 20 days ago: kept by 30d
        version(2, 24 * 5, "error"),
        version(3, 24 * 2, "processing"),
        version(4, 24 * 20),
    ]
    p = plan(versions, keep_noncurrent_within="30d")
    r = reasons(p)
    assert r[1] == ("keep_noncurrent_within 30d: replaced by 4 at 2024-02-19T12:00:00Z",)
    assert r[4][0] == "keep_noncurrent_within 30d: current version"  # 3 and 2 replace nothing
    assert r[2] == ("no rule keeps it",)  # a failed upload is not kept by the rule either
    assert r[3] == ("protected: processing",)
    # 10 days later, 4 is 30 days old: 1 was replaced 30 days ago and goes
    assert kept(
        plan(versions, NOW + timedelta(days=10, seconds=1), keep_noncurrent_within="30d")
    ) == [3, 4]


def test_a_version_recorded_at_the_same_instant_with_a_higher_id_replaces_it() -> None:
    versions = [version(5, 24 * 10), version(6, 24 * 10), version(7, 24 * 50)]
    p = plan(versions, keep_noncurrent_within="30d")
    r = reasons(p)
    assert r[5] == ("keep_noncurrent_within 30d: replaced by 6 at 2024-02-29T12:00:00Z",)
    assert r[7] == ("keep_noncurrent_within 30d: replaced by 5 at 2024-02-29T12:00:00Z",)


def test_it_combines_with_the_other_rules_grace_and_holds() -> None:
    versions = issue_example()
    p = plan(
        versions,
        keep_noncurrent_within="3d",
        keep_last=1,
        grace="1d",
        holds=[{"versions": [2], "reason": "audit", "until": "2024-03-20"}],
    )
    r = reasons(p)
    assert kept(p) == [2, 7, 8, 9, 10]
    assert r[2] == ("hold: audit (until 2024-03-20T00:00:00Z)",)
    # 7 was replaced by 8 (2024-03-07T10:00Z) more than 3 days ago, but one day ago it was
    # still kept: grace spares it until 8's recorded date + 3 days + 1 day
    assert r[7] == ("grace 1d: surplus now, deletable after 2024-03-11T10:00:00Z",)
    assert eligible(p)[8] == "2024-03-12T10:00:00Z"  # 3 days after 9, plus 1 day of grace
    assert eligible(p)[2] == "2024-03-21T00:00:00Z"  # the hold's end, plus 1 day of grace


def test_plain_english_round_trip_and_bad_values() -> None:
    policy = RetentionPolicy.from_dict(
        {"keep_noncurrent_within": "30d", "timezone": "Europe/Paris"}
    )
    assert str(policy).startswith(
        "keep every successful version replaced by a newer one in the last 30 days "
        "(calendar in Europe/Paris); never delete the newest successful version"
    )
    assert policy.to_dict() == {"keep_noncurrent_within": "30d", "timezone": "Europe/Paris"}
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(PolicyError, match=r"^policy\.keep_noncurrent_within: expected a duration"):
        RetentionPolicy.from_dict({"keep_noncurrent_within": "30 days"})
    with pytest.raises(PolicyError, match=r"^policy\.keep_noncurrent_within: expected a duration"):
        RetentionPolicy(keep_noncurrent_within="0d")  # type: ignore[arg-type]


def test_the_cli_flag_plans_the_issue_example(domo: EmulatorServer) -> None:
    records = [
        {
            "schemaId": 1,
            "dataId": v.data_id,
            "uploadStatus": "success",
            "recordedDate": format_instant(v.recorded_date),
            "uploadCompletedDate": format_instant(v.recorded_date),
            "numRows": v.num_rows,
            "numBytes": v.num_bytes,
        }
        for v in issue_example()
    ]
    domo.store.add_dataset("example", records)
    env = {"DOMO_INSTANCE": domo.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
    args = ["plan", "example", "--keep-noncurrent-within", "3d", "--now", format_instant(NOW)]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "policy: keep every successful version replaced by a newer one in the last 3 days" in (
        result.stdout
    )
    row = next(line for line in result.stdout.splitlines() if line.startswith(" 8 "))
    assert (
        "2024-03-11T10:00:00Z  keep_noncurrent_within 3d: replaced by 9 at 2024-03-08T10:00" in row
    )
    assert result.stdout.splitlines()[-1].startswith("summary: delete 7 of 10 versions")
