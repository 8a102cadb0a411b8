"""Settings from the environment: a bad value is refused, never replaced silently."""

from __future__ import annotations

import pytest

from domo_versions_iac.domo.errors import ConfigurationError
from domo_versions_iac.domo.settings import check_environment, plan_concurrency


@pytest.mark.parametrize(("value", "expected"), [("", 32), (" 1 ", 1), ("64", 64)])
def test_plan_concurrency_accepts_1_to_64(value: str, expected: int) -> None:
    assert plan_concurrency({"DOMO_PLAN_CONCURRENCY": value}) == expected


@pytest.mark.parametrize("value", ["0", "abc", "1000", "65", "²", "٣", "-1", "2.5"])
def test_plan_concurrency_refuses_the_rest_instead_of_using_32(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan_concurrency({"DOMO_PLAN_CONCURRENCY": value})
    assert str(caught.value) == (
        f"DOMO_PLAN_CONCURRENCY={value!r} is not valid: give a whole number from 1 to 64, "
        "or unset it for the default of 32."
    )


def test_check_environment_names_a_bad_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOMO_PLAN_CONCURRENCY", raising=False)
    monkeypatch.setenv("DOMO_REQUEST_DEADLINE", "-5")
    with pytest.raises(ConfigurationError, match=r"^DOMO_REQUEST_DEADLINE='-5' is not a deadline"):
        check_environment()
    monkeypatch.setenv("DOMO_REQUEST_DEADLINE", "90")
    check_environment()
