"""The preview path stays light: the provider's `check` needs neither requests nor a
client, so the dynamic-provider process (started on the preview's critical path) does
not import them. Run in a fresh interpreter, since this test process has both loaded."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK_IN_A_FRESH_PROCESS = """
import json, sys
from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
provider = DatasetVersionRetentionProvider()
news = {
    "dataset_id": "ds-a", "policy": {"keep_last": 5}, "planned_deletions": "1-2",
    "plan_summary": "delete 2 of 7 versions", "__plan_basis": "0123456789abcdef",
    "instance": "http://127.0.0.1:9", "token": "emulator-token-0123456789",
}
result = provider.check({}, news)
bad = provider.check({}, {**news, "token": "tok en"})
print(json.dumps({
    "failures": [f.property for f in result.failures],
    "bad_token": [f.property for f in bad.failures],
    "requests": "requests" in sys.modules,
}))
"""


def test_check_validates_credentials_without_importing_requests() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"failures": [], "bad_token": ["token"], "requests": False}
