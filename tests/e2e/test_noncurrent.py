"""keep_noncurrent_within through the real Pulumi CLI: what the preview shows, up deletes."""

from __future__ import annotations

import re

from domo_versions_iac.emulator import EmulatorServer

from .conftest import StackFactory, deleted_ids_sent, make_versions, remaining_ids

PROGRAM = """\
from domo_versions_iac import DatasetVersionRetention
from domo_versions_iac.provider.policy_args import RetentionPolicyArgs

policy: RetentionPolicyArgs = {"keep_noncurrent_within": "3d"}
DatasetVersionRetention("a", dataset_id="ds-a", policy=policy)
"""


def test_versions_replaced_within_the_duration_stay_and_the_rest_go(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # one a day, the newest an hour ago: version i was replaced by i + 1, (9 - i) days
    # and an hour ago, so 7, 8 and 9 were replaced within 3 days, and 10 is current
    domo.store.add_dataset("ds-a", make_versions(10))
    ws = stack_factory(PROGRAM)
    preview = ws.preview("--diff")
    assert '"delete 6 of 10 versions, 2.1 MB, 21.0 k rows"' in preview.stdout, preview.stdout
    assert re.search(r'planned_deletions\s*: "1-6"', preview.stdout), preview.stdout
    assert remaining_ids(domo, "ds-a") == list(range(1, 11))
    ws.up()
    assert sorted(deleted_ids_sent(domo)) == [1, 2, 3, 4, 5, 6]
    assert remaining_ids(domo, "ds-a") == [7, 8, 9, 10]
