"""The status table: each non-2xx answer becomes the error (and message) a user reads."""

from __future__ import annotations

import pytest
import requests

from domo_versions_iac.domo.errors import (
    AuthenticationError,
    BadRequestError,
    DatasetNotFoundError,
    DeleteOutcomeUnknownError,
    DomoError,
    InvalidResponseError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from domo_versions_iac.domo.http_errors import status_error


def answer(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.encoding = "utf-8"
    response.headers.update(headers or {})
    return response


def error_for(
    status: int, method: str = "GET", *, ids: list[int] | None = None, **headers: str
) -> DomoError:
    return status_error(
        answer(status, b'{"message": "said Domo", "toe": "T-1"}', headers),
        method,
        instance="https://acme.domo.com",
        dataset_id="ds-1",
        ids=ids,
        retry_after=7.0,
    )


@pytest.mark.parametrize(
    ("status", "method", "error", "summary"),
    [
        (400, "GET", BadRequestError, "Domo rejected the GET request"),
        (418, "DELETE", BadRequestError, "Domo rejected the DELETE request"),
        (401, "GET", AuthenticationError, "Domo rejected the developer token"),
        (403, "GET", PermissionDeniedError, "Domo denied access"),
        (403, "DELETE", PermissionDeniedError, "Domo refused to delete versions"),
        (404, "DELETE", DatasetNotFoundError, "Domo does not know this dataset"),
        (429, "GET", RateLimitedError, "Domo kept rate limiting the request"),
        (500, "GET", ServerError, "Domo failed to answer"),
        (599, "GET", ServerError, "Domo failed to answer"),
        (
            503,
            "DELETE",
            DeleteOutcomeUnknownError,
            "The DELETE of 2 versions failed on Domo's side",
        ),
    ],
)
def test_each_status_becomes_its_error(
    status: int, method: str, error: type[DomoError], summary: str
) -> None:
    raised = error_for(status, method, ids=[3, 4])
    assert type(raised) is error
    assert raised.summary == summary
    assert (raised.status, raised.dataset_id, raised.instance) == (
        status,
        "ds-1",
        "https://acme.domo.com",
    )
    assert (raised.domo_message, raised.toe) == ("said Domo", "T-1")


def test_rate_limit_keeps_retry_after_and_delete_keeps_its_ids() -> None:
    limited = error_for(429)
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 7.0
    unknown = error_for(502, "DELETE", ids=[9, 8])
    assert isinstance(unknown, DeleteOutcomeUnknownError) and unknown.ids == [8, 9]


def test_redirect_names_its_target_and_says_what_to_check() -> None:
    raised = error_for(302, Location="https://login.example/sso")
    assert isinstance(raised, InvalidResponseError)
    assert raised.summary == (
        "Domo answered with a redirect (not followed) to 'https://login.example/sso'"
    )
    assert raised.hint == "Check the instance name; Domo should not redirect API calls."
