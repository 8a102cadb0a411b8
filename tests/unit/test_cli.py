"""The ``domo-versions`` command line, as a user sees it: output, errors, exit codes."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from domo_versions_iac import __version__
from domo_versions_iac.cli import common as cli_common
from domo_versions_iac.cli.main import Progress, cli
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.models import parse_instant
from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    INVENTORY_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorServer,
)
from domo_versions_iac.policy import plan_retention
from domo_versions_iac.provider.inputs import parse_inputs
from domo_versions_iac.schemas import validator

ROOT = Path(__file__).resolve().parents[2]
FIXED = "fixed-0000-4000-a000-000000000009"
NOW = "2024-03-10T12:00:00Z"


def _record(data_id: int, day: int, status: str = "success") -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaId": 1,
        "dataId": data_id,
        "uploadStatus": status,
        "recordedDate": f"2024-03-{day:02d}T10:00:00Z",
        "numRows": 0 if status != "success" else 1000 * data_id,
        "numBytes": 0 if status != "success" else 100_000 * data_id,
    }
    if status != "processing":
        record["uploadCompletedDate"] = f"2024-03-{day:02d}T10:05:00Z"
    return record


@pytest.fixture
def env(emulator: EmulatorServer) -> dict[str, str]:
    """Environment pointing the CLI at the emulator; a fixed 5-version dataset added."""
    emulator.store.add_dataset(
        FIXED, [_record(i, i) for i in range(1, 5)] + [_record(5, 5, "error")], name="fixed"
    )
    return {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "CLIENT_OPTIONS", {"backoff_base": 0.0, "timeout": 5.0})


def run(args: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> Result:
    base = {"DOMO_INSTANCE": "", "DOMO_DEVELOPER_TOKEN": ""}
    return CliRunner().invoke(cli, args, env={**base, **(env or {})}, **kwargs)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- ls


def test_ls_prints_a_table_newest_first_with_totals(env: dict[str, str]) -> None:
    result = run(["ls", FIXED], env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"dataset {FIXED}"
    assert lines[1].split() == ["id", "recorded", "status", "rows", "bytes"]
    ids = [line.split()[0] for line in lines[2:-1]]
    assert ids == ["5", "4", "3", "2", "1"]
    assert "error" in lines[2] and "2024-03-05T10:00:00Z" in lines[2]
    assert lines[3].split() == ["4", "2024-03-04T10:00:00Z", "success", "4.0", "k", "400.0", "kB"]
    assert lines[-1] == "total: 5 versions, 1.0 MB, 10.0 k rows (1 error, 4 success)"
    assert result.stderr == ""


def test_ls_several_datasets_adds_a_grand_total_and_no_progress_off_tty(
    env: dict[str, str],
) -> None:
    result = run(["ls", FIXED, INVENTORY_DATASET_ID, BUDGET_DATASET_ID], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("dataset ") == 3
    assert result.stdout.strip().splitlines()[-1].startswith("all 3 datasets: 22 versions, ")
    assert result.stderr == ""  # no progress indicator: stderr is not a terminal


def test_ls_json_has_one_shape_for_one_or_several_datasets(env: dict[str, str]) -> None:
    one = json.loads(run(["ls", FIXED, "--json"], env).stdout)
    assert one["format_version"] == 2 and list(one["datasets"]) == [FIXED]
    listing = one["datasets"][FIXED]
    assert [v["data_id"] for v in listing["versions"]] == [5, 4, 3, 2, 1]
    assert listing["totals"] == {"versions": 5, "rows": 10_000, "bytes": 1_000_000}
    several = json.loads(run(["ls", FIXED, BUDGET_DATASET_ID, "--json"], env).stdout)
    assert several["format_version"] == 2
    assert set(several["datasets"]) == {FIXED, BUDGET_DATASET_ID}
    assert several["datasets"][FIXED] == listing
    assert several["datasets"][BUDGET_DATASET_ID]["totals"]["versions"] == 5


# --------------------------------------------------------------------------- plan


def test_plan_with_pending_deletions_exits_0_and_shows_reasons(env: dict[str, str]) -> None:
    result = run(["plan", FIXED, "--keep-last", "2", "--now", NOW], env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"dataset {FIXED} (planned at {NOW})" in out
    assert "policy: keep the 2 newest successful versions" in out
    header = next(line for line in out.splitlines() if line.startswith("id "))
    assert header.split() == [
        "id",
        "recorded",
        "status",
        "rows",
        "bytes",
        "decision",
        "eligible_at",
        "reasons",
    ]
    assert "keep_last #1, protected: latest #1" in out
    assert out.count("no rule keeps it") == 3
    assert out.splitlines()[-1] == "summary: delete 3 of 5 versions, 300.0 kB, 3.0 k rows"


def test_plan_with_nothing_to_delete_exits_0(env: dict[str, str]) -> None:
    args = ["plan", FIXED, "--keep-last", "10", "--keep-failed", "--now", NOW]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "summary: nothing to delete: 5 versions kept"
    assert run([*args, "--detailed-exitcode"], env).exit_code == 0


def test_detailed_exitcode_is_2_when_deletions_are_pending(env: dict[str, str]) -> None:
    result = run(["plan", FIXED, "--keep-last", "2", "--now", NOW, "--detailed-exitcode"], env)
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines()[-1].startswith("summary: delete 3 of 5 versions")
    pending_json = run(["plan", FIXED, "--keep-last", "2", "--detailed-exitcode", "--json"], env)
    assert pending_json.exit_code == 2
    several = ["plan", FIXED, "no-such-dataset", "--keep-last", "2", "--detailed-exitcode"]
    assert run(several, env).exit_code == 1  # an error outranks "pending"


def test_plan_json_is_the_providers_plan(env: dict[str, str], client: DomoClient) -> None:
    policy = ["--keep-within", "3d", "--allowed-versions", "1,42"]
    result = run(["plan", FIXED, *policy, "--now", NOW, "--json"], env)
    assert result.exit_code == 0, result.output
    envelope = json.loads(result.stdout)
    assert envelope["format_version"] == 2 and list(envelope["datasets"]) == [FIXED]
    data = envelope["datasets"][FIXED]
    validator("plan").validate(data)
    inputs = parse_inputs(
        {"dataset_id": FIXED, "policy": {"keep_within": "3d"}, "allowed_versions": [1, 42]}
    )
    expected = plan_retention(
        client.list_versions(FIXED), inputs.policy, parse_instant(NOW), enforce_budget=False
    )
    assert data == expected.to_dict()
    assert data["warnings"] == ["allowed_versions: version 42 is not listed by Domo"]
    assert "warning: dataset" in result.stderr and "version 42" in result.stderr


def test_plan_warns_about_a_stale_dataset(env: dict[str, str]) -> None:
    # FIXED's newest upload is 2024-03-05: keep_within 3d from 2024-03-10 keeps nothing.
    args = ["plan", FIXED, "--keep-within", "3d", "--now", NOW]
    result = run(args, env)
    assert result.exit_code == 0, result.output  # plan exits 0 unless --detailed-exitcode
    assert result.stdout.splitlines()[-1].startswith("summary: delete 4 of 5 versions")
    assert f"warning: dataset {FIXED}: STALE DATASET, uploads may have stopped" in result.stderr
    assert "keep_within 3d keeps nothing and only protect_latest keeps anything" in result.stderr
    data = json.loads(run([*args, "--json"], env).stdout)
    warnings = data["datasets"][FIXED]["warnings"]
    assert [w.split(",")[0] for w in warnings] == ["STALE DATASET"]


def test_plan_several_datasets_combined_summary_and_json(env: dict[str, str]) -> None:
    args = ["plan", FIXED, BUDGET_DATASET_ID, "--keep-last", "4", "--now", NOW]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("summary: ") == 2
    last = result.stdout.splitlines()[-1]
    assert last.startswith("total: delete 2 of 10 versions in 2 of 2 datasets, ")
    assert "listed" not in result.stderr
    data = json.loads(run([*args, "--json"], env).stdout)
    assert data["format_version"] == 2 and set(data["datasets"]) == {FIXED, BUDGET_DATASET_ID}
    for plan in data["datasets"].values():
        validator("plan").validate(plan)


def test_policy_file_with_flag_overrides(env: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"keep_last": 1, "allowed_versions": [1]}))
    result = run(["plan", FIXED, "--policy", str(policy), "--now", NOW, "--json"], env)
    plan = json.loads(result.stdout)["datasets"][FIXED]
    assert plan["policy"] == {"keep_last": 1, "allowed_versions": [1]}
    flags = ["--keep-last", "3", "--allowed-versions", "2", "--now", NOW, "--json"]
    result = run(["plan", FIXED, "--policy", str(policy), *flags], env)
    plan = json.loads(result.stdout)["datasets"][FIXED]
    assert plan["policy"] == {"keep_last": 3, "allowed_versions": [2]}


def test_budget_error_shows_the_plan_and_exits_1(env: dict[str, str]) -> None:
    result = run(["plan", FIXED, "--keep-last", "1", "--max-deletions", "2"], env)
    assert result.exit_code == 1
    assert "summary: delete 4 of 5 versions" in result.stdout
    assert result.stderr.startswith(f"error: dataset {FIXED}: plan would delete 4 of 5")
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--keep-last", "0"], ["policy.keep_last", "expected an integer >= 1", "got 0"]),
        (["--keep-within", "30x"], ["policy.keep_within", "'30x'"]),
        (["--timezone", "Mars/Base"], ["policy.timezone", "unknown time zone"]),
        (["--protect-latest", "2"], ["empty policy would delete every version"]),
        ([], ["no retention policy given", "--keep-last"]),
        (["--allowed-versions", "3,x"], ["--allowed-versions", "3,4"]),
        (["--allowed-versions", " , "], ["--allowed-versions", "got ' , '"]),
        (["--allowed-versions", ""], ["--allowed-versions", "got ''"]),
        (["--allowed-versions", "3,,4"], ["--allowed-versions", "got '3,,4'"]),
        (["--keep-last", "1", "--now", "yesterday"], ["--now", "ISO-8601"]),
        (["--policy", "/nonexistent/policy.json"], ["cannot read policy file", "policy.json"]),
    ],
)
def test_bad_policy_is_one_line(env: dict[str, str], args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(["plan", FIXED, *args], env), *fragments)


def test_policy_file_not_json(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("keep_last: 3")
    assert_one_line_error(run(["plan", FIXED, "--policy", str(bad)], env), "not valid JSON")


def test_wrong_token_is_one_line(env: dict[str, str]) -> None:
    env["DOMO_DEVELOPER_TOKEN"] = "wrong"
    assert_one_line_error(run(["ls", FIXED], env), "401", "DOMO_DEVELOPER_TOKEN")
    assert_one_line_error(run(["plan", FIXED, "--keep-last", "1"], env), "401")


def test_unknown_dataset_is_one_line(env: dict[str, str]) -> None:
    assert_one_line_error(run(["ls", "no-such-dataset"], env), "404", "no-such-dataset")


def test_unknown_dataset_among_several_still_lists_the_others(env: dict[str, str]) -> None:
    result = run(["ls", FIXED, "no-such-dataset"], env)
    assert result.exit_code == 1
    assert f"dataset {FIXED}" in result.stdout
    assert result.stderr.count("error: ") == 1 and "404" in result.stderr


@pytest.mark.parametrize("command", [["ls"], ["plan", "--keep-last", "2"]])
def test_json_holds_per_dataset_errors_beside_the_other_datasets(
    env: dict[str, str], command: list[str]
) -> None:
    result = run([*command, "no-such-dataset", FIXED, "--json"], env)
    assert result.exit_code == 1
    assert result.stderr.count("error: ") == 1 and "no-such-dataset" in result.stderr
    datasets = json.loads(result.stdout)["datasets"]
    assert set(datasets) == {"no-such-dataset", FIXED}
    error = datasets["no-such-dataset"]["error"]
    assert error["status"] == 404 and error["type"] == "DatasetNotFoundError"
    assert "no-such-dataset" in error["message"]
    assert len(datasets[FIXED]["versions"]) == 5
    alone = json.loads(run([*command, "no-such-dataset", "--json"], env).stdout)
    assert alone["datasets"]["no-such-dataset"]["error"]["status"] == 404


def test_missing_credentials_are_one_line(emulator: EmulatorServer) -> None:
    assert_one_line_error(run(["ls", FIXED]), "no Domo instance given", "DOMO_INSTANCE")
    result = run(["ls", FIXED, "--instance", emulator.url])
    assert_one_line_error(result, "no Domo developer token given", "DOMO_DEVELOPER_TOKEN")


def test_unreachable_instance_is_one_line() -> None:
    env = {"DOMO_INSTANCE": f"http://127.0.0.1:{closed_port()}", "DOMO_DEVELOPER_TOKEN": "t"}
    assert_one_line_error(run(["ls", FIXED], env), "Could not reach Domo", "network")


def test_bad_instance_is_one_line() -> None:
    env = {"DOMO_DEVELOPER_TOKEN": "t"}
    assert_one_line_error(run(["ls", FIXED, "--instance", "http://example.com"], env), "http")


def test_verbose_adds_the_exception_chain(env: dict[str, str]) -> None:
    env["DOMO_DEVELOPER_TOKEN"] = "wrong"
    result = run(["ls", FIXED, "--verbose"], env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Domo rejected the developer token")
    assert "Traceback" in result.stderr and "AuthenticationError" in result.stderr
    result = run(["plan", FIXED, "--keep-last", "0", "-v"], env)
    assert "InputError" in result.stderr and "PolicyError" in result.stderr


def test_instance_flag_must_be_the_instance_the_token_belongs_to(
    env: dict[str, str], emulator: EmulatorServer
) -> None:
    emulator.store.clear_requests()
    other = f"http://127.0.0.1:{closed_port()}"
    result = run(["ls", FIXED, "--instance", other], env)
    assert_one_line_error(result, f"--instance {other} is not DOMO_INSTANCE", "never sent")
    assert emulator.store.requests == [], "nothing was sent anywhere"
    # The same instance spelt another way is the same instance.
    assert run(["ls", FIXED, "--instance", emulator.url + "/"], env).exit_code == 0


def test_instance_flag_names_the_tokens_instance_without_domo_instance(
    env: dict[str, str], emulator: EmulatorServer
) -> None:
    result = run(["ls", FIXED, "--instance", emulator.url], {**env, "DOMO_INSTANCE": ""})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "instance",
    ["https://evil.example", "https://acme.domo.com.evil.example", "acme.domo.com@evil.example"],
)
def test_hosts_other_than_domo_are_refused_before_any_request(instance: str) -> None:
    result = run(["ls", FIXED, "--instance", instance], {"DOMO_DEVELOPER_TOKEN": "t"})
    assert_one_line_error(result, repr(instance), "`instance`", "DOMO_ALLOWED_HOSTS")


def test_usage_errors_exit_1_not_2() -> None:
    result = run(["ls", "--bogus"])
    assert result.exit_code == 1
    assert "No such option" in result.stderr
    assert run(["ls"]).exit_code == 1  # missing DATASET_ID
    assert run(["nope"]).exit_code == 1


def test_help_documents_exit_codes_and_token_source() -> None:
    text = run(["plan", "--help"]).stdout
    assert "--detailed-exitcode: nothing would be deleted" in " ".join(text.split())
    assert "2  only with --detailed-exitcode: deletions pending" in text
    flat = " ".join(text.split())
    assert "token only from DOMO_DEVELOPER_TOKEN" in flat and "leak into shell history" in flat
    assert "--token" not in text
    assert run(["--version"]).stdout.strip() == f"domo-versions, version {__version__}"


# --------------------------------------------------------------------------- global options


@pytest.mark.parametrize(
    "args",
    [
        ["--instance", "{url}", "--json", "ls", FIXED],
        ["ls", FIXED, "--instance", "{url}", "--json"],
        ["--json", "ls", "--instance", "{url}", FIXED],
    ],
)
@pytest.mark.usefixtures("env")  # adds the FIXED dataset
def test_global_options_work_before_or_after_the_command(
    emulator: EmulatorServer, args: list[str]
) -> None:
    argv = [arg.format(url=emulator.url) for arg in args]
    result = run(argv, {"DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["datasets"][FIXED]["totals"]["versions"] == 5


def test_global_options_before_plan_and_the_later_instance_wins(
    emulator: EmulatorServer, env: dict[str, str]
) -> None:
    wrong = f"http://127.0.0.1:{closed_port()}"
    args = ["--instance", wrong, "--json", "plan", FIXED, "--keep-last", "2"]
    result = run([*args, "--instance", emulator.url], {"DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["datasets"][FIXED]["summary"]["delete"]["count"] == 3
    env["DOMO_DEVELOPER_TOKEN"] = "wrong"
    verbose_first = run(["--verbose", "ls", FIXED], env)
    assert "Traceback" in verbose_first.stderr and "AuthenticationError" in verbose_first.stderr


def test_a_naive_now_says_it_assumed_utc(env: dict[str, str]) -> None:
    result = run(["plan", FIXED, "--keep-last", "2", "--now", "2024-03-10T12:00:00"], env)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: --now 2024-03-10T12:00:00 has no UTC offset; assumed UTC "
        "(2024-03-10T12:00:00Z). Add Z or an offset such as +01:00 to say otherwise."
    ]
    assert "(planned at 2024-03-10T12:00:00Z)" in result.stdout
    for aware in (NOW, "2024-03-10T13:00:00+01:00"):
        assert run(["plan", FIXED, "--keep-last", "2", "--now", aware], env).stderr == ""


# --------------------------------------------------------------------------- emulator controls


def test_emulator_add_version_simulates_an_upload(
    emulator: EmulatorServer, env: dict[str, str]
) -> None:
    url = ["--url", emulator.url]
    result = run(["emulator", "add-version", FIXED, "--rows", "2000", "--bytes", "5000", *url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"added version 6 to dataset {FIXED}: success, recorded ")
    assert result.stdout.rstrip().endswith("2.0 k rows, 5.0 kB")
    args = ["emulator", "add-version", FIXED, "--status", "processing", "--json"]
    record = json.loads(run(args, env).stdout)  # the URL from DOMO_INSTANCE
    assert record["dataId"] == 7 and record["uploadStatus"] == "processing"
    recorded = ["--status", "error", "--recorded", "2024-03-06T00:00:00Z"]
    assert run(["emulator", "add-version", FIXED, *recorded, *url]).exit_code == 0
    listed = [(v["dataId"], v["uploadStatus"]) for v in emulator.store.list_versions(FIXED)]
    assert listed[-3:] == [(6, "success"), (7, "processing"), (8, "error")]
    assert emulator.store.list_versions(FIXED)[-1]["recordedDate"] == "2024-03-06T00:00:00Z"
    lines = run(["ls", FIXED], env).stdout.splitlines()
    assert lines[-1].startswith("total: 8 versions")


def test_emulator_add_version_errors_are_one_line(emulator: EmulatorServer) -> None:
    url = ["--url", emulator.url]
    unknown = run(["emulator", "add-version", "no-such-dataset", *url])
    assert_one_line_error(unknown, "has no dataset no-such-dataset")
    down = f"http://127.0.0.1:{closed_port()}"
    result = run(["emulator", "add-version", FIXED, "--url", down])
    assert_one_line_error(result, f"no emulator answers at {down}", "domo-versions emulator")
    assert_one_line_error(run(["emulator", "add-version", FIXED]), "no emulator URL given")
    not_a_url = run(["emulator", "add-version", FIXED, "--url", "acme"])
    assert_one_line_error(not_a_url, "http://127.0.0.1:8123", "'acme'")
    bad_time = run(["emulator", "add-version", FIXED, "--recorded", "soon", *url])
    assert_one_line_error(bad_time, "400")
    assert run(["emulator", "add-version", FIXED, "--status", "done", *url]).exit_code == 1


def test_emulator_status_lists_datasets_or_says_it_is_down(emulator: EmulatorServer) -> None:
    result = run(["emulator", "status", "--url", emulator.url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"emulator at {emulator.url} is up: 4 datasets"
    assert f"  {INVENTORY_DATASET_ID}" in lines
    down = f"http://127.0.0.1:{closed_port()}"
    waited = run(["emulator", "status", "--url", down, "--wait", "0.3"])
    assert_one_line_error(waited, f"no emulator answers at {down}")


# --------------------------------------------------------------------------- progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_updates_in_place_on_a_terminal_only() -> None:
    tty = _Tty()
    progress = Progress(3, tty, delay=0.0)
    progress.update(1)
    progress.update(3)
    progress.close()
    text = tty.getvalue()
    assert "\rlisted 1/3 datasets" in text and "\rlisted 3/3 datasets" in text
    assert text.endswith("\r")  # the line is erased at the end
    for stream, total in ((io.StringIO(), 3), (_Tty(), 1)):
        quiet = Progress(total, stream, delay=0.0)
        quiet.update(1)
        quiet.close()
        assert stream.getvalue() == ""


def test_cli_does_not_import_pulumi() -> None:
    code = "import sys, domo_versions_iac.cli.main; print(any('pulumi' in m for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- subprocess


def test_emulator_command_serves_until_sigterm() -> None:
    bin_dir = Path(sys.executable).parent
    exe = bin_dir / "domo-versions"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "domo-versions"
    proc = subprocess.Popen(
        [str(exe), "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "the emulator printed nothing within 15 s"
        first = proc.stdout.readline()
        assert first.startswith("Domo emulator listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        env = {**os.environ, "DOMO_INSTANCE": url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
        listed = subprocess.run(
            [str(exe), "ls", SALES_DATASET_ID],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[1].split() == [
            "id",
            "recorded",
            "status",
            "rows",
            "bytes",
        ]
        assert "total: " in listed.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0, "SIGTERM did not stop the emulator cleanly"
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def _domo_versions() -> Path:
    exe = Path(sys.executable).parent / "domo-versions"
    return exe if exe.exists() else ROOT / ".venv" / "bin" / "domo-versions"


def test_status_with_a_url_file_proves_it_talks_to_the_emulator_that_wrote_it(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    """A README once ran `emulator --port 8123 &` while another emulator held 8123: the new
    one exited, `status --url ...:8123` succeeded against the other, and the README's
    commands deleted versions there. With --url-file, status waits for the URL the new
    emulator writes and checks that the emulator answering is the one that wrote it."""
    url_file = tmp_path / "emulator-url"
    taken = subprocess.run(  # the port is held by `emulator`: this one cannot start
        [str(_domo_versions()), "emulator", "--port", str(emulator.port), "--url-file", url_file],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert taken.returncode == 1 and "cannot listen on 127.0.0.1:" in taken.stderr
    assert not url_file.exists()
    refused = run(["emulator", "status", "--url-file", str(url_file), "--wait", "0.3"])
    assert_one_line_error(refused, f"no emulator wrote its URL to {url_file}")
    url_file.write_text(emulator.url + "\n")  # stale: an earlier run's, or hand-written
    refused = run(["emulator", "status", "--url-file", str(url_file), "--wait", "0.3"])
    assert_one_line_error(refused, f"the emulator at {emulator.url} did not write {url_file}")

    proc = subprocess.Popen(
        [str(_domo_versions()), "emulator", "--url-file", str(url_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = run(["emulator", "status", "--url-file", str(url_file), "--wait", "30"])
        assert status.exit_code == 0, status.output
        started = url_file.read_text().strip()
        assert started != emulator.url
        assert status.stdout.splitlines()[0] == f"emulator at {started} is up: 4 datasets"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not url_file.exists(), "the emulator removes its URL file when it stops"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------- grace, holds, forecast


def test_plan_with_grace_holds_and_the_eligible_at_column(env: dict[str, str]) -> None:
    hold = "1:audit: FY25 close:2024-04-01T00:00:00Z"  # a colon in the reason, one in until
    args = ["plan", FIXED, "--keep-last", "1", "--grace", "7d", "--hold", hold, "--now", NOW]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    rows = {
        line.split()[0]: line for line in result.stdout.splitlines() if line[:2].strip().isdigit()
    }
    # the hold ends 04-01; grace keeps it 7 days more
    assert "2024-04-08T00:00:00Z  hold: audit: FY25 close (until 2024-04-01T00:00:00Z)" in rows["1"]
    # 7 days before NOW (03-03T12:00) version 3 was the newest: it may go 7 days after 4
    assert "grace 7d: surplus now, deletable after 2024-03-11T10:00:00Z" in rows["3"]
    assert rows["4"].split()[7:9] == ["keep", "new-upload"]  # rows and bytes are 2 words each
    assert "delete" in rows["2"].split() and "no rule keeps it" in rows["2"]
    assert "policy: keep the newest successful version;" in result.stdout
    assert "hold version 1 (audit: FY25 close) until 2024-04-01T00:00:00Z" in result.stdout
    assert "grace 7 days: delete a version only if" in result.stdout


def test_plan_hold_flag_errors_are_one_line(env: dict[str, str]) -> None:
    for bad in ["3,4", "3,,4:x", ":x", "3: "]:
        result = run(["plan", FIXED, "--keep-last", "1", "--hold", bad], env)
        assert_one_line_error(result, "--hold: expected")
    result = run(["plan", FIXED, "--keep-last", "1", "--hold", "3:x:2024-13-01"], env)
    assert_one_line_error(result, "policy.holds: expected a list of holds")


def test_plan_warns_about_an_unlisted_held_version(env: dict[str, str]) -> None:
    result = run(["plan", FIXED, "--keep-last", "1", "--hold", "42:legal", "--now", NOW], env)
    assert result.exit_code == 0, result.output
    assert (
        f"warning: dataset {FIXED}: holds: version 42 (hold 'legal') is not listed by Domo"
        in result.stderr
    )


def test_plan_forecast_text_and_json(env: dict[str, str]) -> None:
    args = ["plan", FIXED, "--keep-within", "7d", "--now", NOW, "--forecast", "5"]
    result = run(args, env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("forecast if nothing new is uploaded (5 days):")
    # keep_within 7d from 03-10T12:00 keeps 4 (the newest, for good) and the failed
    # upload 5 (recorded 03-05T10:00) until 03-12T10:00, in day 2
    assert lines[start + 1 :] == [
        "  now: delete 3, 600.0 kB, 6.0 k rows (ids 1, 2, 3)",
        "  day 2 (by 2024-03-12T12:00:00Z): delete 1, 0 B, 0 rows (ids 5)",
        "  total through 2024-03-15T12:00:00Z: delete 4, 600.0 kB, 6.0 k rows",
    ]
    data = json.loads(run([*args, "--json"], env).stdout)["datasets"][FIXED]
    validator("plan").validate(data)
    assert [day["day"] for day in data["forecast"]] == [0, 1, 2, 3, 4, 5]
    assert data["forecast"][0]["ids"] == [1, 2, 3]
    assert run([*args[:-1], "0"], env).exit_code == 1


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("DOMO_REQUEST_DEADLINE", "abc", "give a number of seconds greater than 0"),
        ("DOMO_REQUEST_DEADLINE", "-5", "give a number of seconds greater than 0"),
        ("DOMO_PLAN_CONCURRENCY", "²", "give a whole number from 1 to 64"),
        ("DOMO_PLAN_CONCURRENCY", "0", "give a whole number from 1 to 64"),
        ("DOMO_PLAN_CONCURRENCY", "abc", "give a whole number from 1 to 64"),
        ("DOMO_PLAN_CONCURRENCY", "1000", "give a whole number from 1 to 64"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_what_it_accepts(
    env: dict[str, str], variable: str, value: str, accepted: str
) -> None:
    result = run(["ls", FIXED], env={**env, variable: value})
    assert_one_line_error(result, f"{variable}={value!r} is not", accepted)
