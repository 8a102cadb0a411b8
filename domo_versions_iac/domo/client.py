"""The Domo data versions client: list and delete, with retries and clear errors.

:class:`DomoClient` orchestrates; each job has its own module:

* :mod:`~domo_versions_iac.domo.instance`: which host the token may go to;
* :mod:`~domo_versions_iac.domo.retry`: what is retried (rules as data), Retry-After, backoff,
  the attempt and waiting limits (and why not urllib3's ``Retry``);
* :mod:`~domo_versions_iac.domo.transport`: the session and one exchange within the deadline;
* :mod:`~domo_versions_iac.domo.http_errors`: the one seam where ``requests``/``urllib3``
  exceptions and HTTP statuses become :mod:`domo_versions_iac.domo.errors` exceptions;
* :mod:`~domo_versions_iac.domo.listing`: a listing body to ``DataVersion`` records, or an error.

Safe deletion on top of this (re-list and re-plan before every batch) is
:mod:`domo_versions_iac.deletion.loop`.

Retry policy
------------
* ``GET`` (listing) is retried on 429 (and Domo's other throttle, ``403 {"message":
  "API Rate limit reached."}``), 502, 503, 504, connection errors and timeouts,
  with exponential backoff and full jitter (``uniform(0, backoff_base * 2**n)``),
  honouring ``Retry-After`` (seconds or an HTTP date). At most ``max_attempts``
  attempts; the total time spent *waiting between attempts* never exceeds
  ``max_retry_seconds`` (a ``Retry-After`` longer than what is left ends the retries
  at once rather than being shortened). Each attempt is bounded by ``timeout``.
* ``DELETE`` is never re-sent by the client, whatever happened: a timeout, a dropped
  connection or any 5xx raises :class:`DeleteOutcomeUnknownError` with the batch's ids,
  a throttle raises :class:`RateLimitedError`, a failure to *connect* plain
  :class:`DomoConnectionError`. During any wait the versions may change (another stack
  deletes, an upload lands), so only
  :func:`domo_versions_iac.deletion.loop.apply_retention` sends again, after a fresh listing
  and the deletion gate. For a throttle it first waits with :meth:`DomoClient.wait_to_resend`
  (``Retry-After``, else the backoff; within ``max_attempts`` and ``max_retry_seconds``).
* A 429 (or Domo's 403 rate limit) also pauses every other call of the same client (the
  same instance and token) until the wait it asked for is over
  (:mod:`~domo_versions_iac.domo.throttle`): with up to 32 datasets in flight, the others
  would only earn throttles of their own.

Deadline
--------
Every call (connect, status line, headers, the whole body, and any retries with their
waits) must finish within ``deadline`` seconds (default 60, or ``DOMO_REQUEST_DEADLINE``
in the environment). Socket timeouts bound each read only: a server that sends one byte
every few seconds never trips them. So each socket timeout is at most the time left, the
body is read in chunks with the deadline checked between them, and a watchdog shuts the
connection down when the deadline passes, even in the middle of the headers. A GET then
raises :class:`DeadlineExceededError`; a DELETE that was sent raises
:class:`DeleteOutcomeUnknownError` (it may have been carried out).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from domo_versions_iac.domo.credentials import check_token
from domo_versions_iac.domo.errors import (
    ConfigurationError,
    DeleteOutcomeUnknownError,
    DomoError,
    ProtectedVersionError,
    RateLimitedError,
    register_secret,
)
from domo_versions_iac.domo.http_errors import (
    deadline_error,
    never_connected,
    status_error,
    transport_error,
)
from domo_versions_iac.domo.instance import normalize_instance, parse_allowed_hosts
from domo_versions_iac.domo.listing import ListingBody
from domo_versions_iac.domo.models import (
    DEFAULT_BATCH_SIZE,
    DataVersion,
    protected_ids,
)
from domo_versions_iac.domo.retry import (
    DEADLINE_ENV,
    DEFAULT_EXPORT_DEADLINE,
    EXPORT_DEADLINE_ENV,
    RETRY_STATUSES,
    RULES,
    Attempts,
    deadline_setting,
    full_jitter,
    parse_retry_after,
)
from domo_versions_iac.domo.throttle import Throttle
from domo_versions_iac.domo.transport import (
    CA_BUNDLE_ENV,
    DeadlinePassed,
    RawBody,
    exchange,
    new_session,
)

logger = logging.getLogger("domo_versions_iac.domo.client")


def _user_agent() -> str:
    from domo_versions_iac import __version__

    return f"domo-versions-iac/{__version__} python-requests/{requests.__version__}"


def _check_ids(ids: Iterable[int]) -> list[int]:
    """Integer ids, deduplicated and sorted; TypeError/ValueError for anything else."""
    if isinstance(ids, (str, bytes)):
        raise TypeError("ids must be an iterable of integers, not a string")
    checked: set[int] = set()
    for item in ids:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"data version ids must be integers, got {item!r}")
        if item < 0:
            raise ValueError(f"data version ids are not negative, got {item}")
        checked.add(int(item))
    return sorted(checked)


def _batches(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


class _Secret:
    """Holds the token; its repr (in tracebacks, debuggers, ``vars()``) hides it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"

    def __reduce__(self) -> Any:
        raise TypeError("the Domo token is not picklable")


class DomoClient:
    """List and delete data versions of Domo datasets.

    One ``requests.Session`` (one connection pool) per client; safe to share between
    threads (no per-call state is stored on the client; cookies are refused). The token
    is sent only in ``X-DOMO-Developer-Token`` and never logged, shown or repr'd.
    """

    def __init__(
        self,
        instance: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_retry_seconds: float = 60.0,
        backoff_base: float = 0.5,
        batch_size: int = DEFAULT_BATCH_SIZE,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 10,
        allowed_hosts: Iterable[str] = (),
        deadline: float | None = None,
    ) -> None:
        self._base_url = normalize_instance(instance, allowed_hosts)
        check_token(token, self._base_url)
        register_secret(token.strip())  # from now on no error or CLI line can show it
        self.deadline = deadline_setting(deadline, self._base_url)
        self.export_deadline = deadline_setting(
            None, self._base_url, env=EXPORT_DEADLINE_ENV, default=DEFAULT_EXPORT_DEADLINE
        )
        if timeout <= 0 or max_attempts < 1 or max_retry_seconds < 0 or backoff_base < 0:
            raise ConfigurationError(
                "timeout must be > 0, max_attempts >= 1, max_retry_seconds and backoff_base >= 0",
                instance=self._base_url,
            )
        if batch_size < 1:
            raise ConfigurationError("batch_size must be at least 1", instance=self._base_url)
        self._token = _Secret(token.strip())
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.backoff_base = backoff_base
        self.batch_size = batch_size
        self._sleep = sleep
        self._random = random.Random()
        self._random_lock = threading.Lock()
        self._throttle = Throttle(sleep=sleep)  # a 429 pauses every thread of this client
        self._user_agent = _user_agent()
        self._owns_session = session is None
        self._session = new_session(self._base_url, pool_size) if session is None else session

    # -- identity ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``https://acme.domo.com`` (or the emulator's ``http://127.0.0.1:PORT``)."""
        return self._base_url

    @property
    def instance(self) -> str:
        """Display form: host (and port), e.g. ``acme.domo.com`` or ``127.0.0.1:8123``."""
        return urlsplit(self._base_url).netloc

    def __repr__(self) -> str:
        return f"DomoClient({self._base_url!r})"

    def close(self) -> None:
        """Close the connection pool (only if this client created the session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> DomoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------

    def versions_url(self, dataset_id: str) -> str:
        return f"{self._base_url}/api/data/v2/datasources/{quote(dataset_id, safe='')}/dataversions"

    def list_versions(self, dataset_id: str) -> list[DataVersion]:
        """All data versions of the dataset, in the order Domo returned them (one GET)."""
        dataset_id = self._check_dataset_id(dataset_id)
        body = ListingBody()  # decoded as it arrives: never the whole body at once
        self._request("GET", dataset_id, stream_to=body)
        return body.versions(dataset_id, instance=self._base_url)

    def export_url(self, dataset_id: str, version_id: int) -> str:
        return f"{self.versions_url(dataset_id)}/{int(version_id)}"

    def export_version(
        self,
        dataset_id: str,
        version_id: int,
        consume: Callable[[RawBody], None],
        *,
        exclude_appended_data: bool = True,
        row_limit: int | None = None,
    ) -> None:
        """Stream one version's rows (CSV) to ``consume``, never holding them whole.

        ``consume`` gets a :class:`~domo_versions_iac.domo.transport.RawBody`: the bytes as
        Domo sent them (gzip stays compressed; ``content_encoding`` says which). It is a
        read, so it is retried like a listing (429 with ``Retry-After``, 502-504, a
        dropped or cut connection): ``consume`` is then called again with a new body and
        must start over. Errors ``consume`` raises itself are not retried. The call's
        deadline is :attr:`export_deadline` (``DOMO_EXPORT_DEADLINE``, default 3600 s):
        longer than a listing's, still checked between chunks. See docs/domo-export-api.md.
        """
        dataset_id = self._check_dataset_id(dataset_id)
        if isinstance(version_id, bool) or not isinstance(version_id, int) or version_id < 0:
            raise ValueError(f"a data version id is a non-negative integer, got {version_id!r}")
        params = {"excludeAppendedData": "true" if exclude_appended_data else "false"}
        if row_limit is not None:
            params["rowLimit"] = str(int(row_limit))

        def stream_to(chunks: Iterator[bytes]) -> None:
            assert isinstance(chunks, RawBody)
            consume(chunks)

        self._request(
            "GET",
            dataset_id,
            stream_to=stream_to,
            export=(version_id, params),
        )

    def delete_versions(
        self,
        dataset_id: str,
        ids: Iterable[int],
        *,
        index: bool,
        batch_size: int | None = None,
        never_delete: Collection[int] | None = None,
    ) -> list[int]:
        """Delete versions in batches; return the ids sent (sorted, deduplicated).

        ``never_delete``: ids this call refuses to send, as computed by
        :func:`~domo_versions_iac.domo.models.protected_ids` from the caller's latest listing
        (the newest successful version and uploads in processing). When it is not
        given, the dataset is listed first and the protected ids come from that listing.
        Asking for a protected id raises :class:`ProtectedVersionError` before any DELETE.

        Each batch is one DELETE, never repeated when its outcome is unknown (see the
        module docs). Raises on the first failing batch; earlier batches are done
        (:class:`DeleteOutcomeUnknownError` lists them in ``completed_ids``).
        An empty ``ids`` sends nothing. Applying a retention policy safely (re-listing
        and re-planning before every batch) is
        :func:`domo_versions_iac.deletion.loop.apply_retention`.
        """
        dataset_id = self._check_dataset_id(dataset_id)
        if not isinstance(index, bool):
            raise TypeError("index must be True or False")
        wanted = _check_ids(ids)
        size = self._check_batch_size(batch_size)
        if not wanted:
            return []
        if never_delete is None:
            never_delete = protected_ids(self.list_versions(dataset_id))
        done: list[int] = []
        for batch in _batches(wanted, size):
            try:
                self._delete_batch(dataset_id, batch, index=index, never_delete=never_delete)
            except DeleteOutcomeUnknownError as exc:
                exc.completed_ids = sorted(done)
                raise
            done.extend(batch)
        return wanted

    def wait_to_resend(self, error: DomoError, *, attempt: int, waited: float) -> float | None:
        """Wait before the delete loop sends again what Domo throttled; send nothing.

        ``attempt``: throttled DELETEs in a row so far (1 for the first); ``waited``:
        seconds already waited for them. Waits ``Retry-After`` when given, else the
        backoff, with this client's ``sleep``, within ``max_attempts``,
        ``max_retry_seconds`` and the deadline (a longer wait is not shortened).
        Returns the seconds waited, or ``None`` when a limit is reached (nothing is
        waited then, and the error's hint says which limit).
        """
        state = Attempts(
            self.max_attempts, self.max_retry_seconds, time.monotonic() + self.deadline
        )
        state.number = attempt
        state.waited = waited
        delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
        if not self._may_retry(state, delay, error, "DELETE", error.dataset_id or "?"):
            return None
        return delay

    # -- internals ---------------------------------------------------------------------

    def _check_dataset_id(self, dataset_id: str) -> str:
        if not isinstance(dataset_id, str) or not dataset_id.strip():
            raise ConfigurationError("The dataset id is empty", instance=self._base_url)
        if dataset_id.strip() in (".", ".."):
            # a path segment, not an id: the URL would silently lose it and aim elsewhere
            raise ConfigurationError(
                f"{dataset_id.strip()!r} is not a dataset id", instance=self._base_url
            )
        return dataset_id.strip()

    def _check_batch_size(self, batch_size: int | None) -> int:
        size = self.batch_size if batch_size is None else batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError("batch_size must be a positive integer")
        return size

    def _headers(self, *, json_body: bool) -> dict[str, str]:
        headers = {
            "X-DOMO-Developer-Token": self._token.value,
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _delete_batch(
        self, dataset_id: str, batch: list[int], *, index: bool, never_delete: Collection[int]
    ) -> None:
        """The lowest delete call: one DELETE; refuses protected ids, whatever the caller said."""
        refused = sorted(set(batch).intersection(never_delete))
        if refused:
            raise ProtectedVersionError(
                f"Refusing to delete version{'s' if len(refused) > 1 else ''} "
                f"{', '.join(map(str, refused))}: the newest successful version and uploads "
                "in processing are never deleted",
                instance=self._base_url,
                dataset_id=dataset_id,
                hint="Nothing was sent to Domo.",
            )
        body = ("[" + ",".join(str(data_id) for data_id in batch) + "]").encode("ascii")
        logger.info(
            "DELETE %d version(s) of dataset %s on %s (index=%s): %s",
            len(batch),
            dataset_id,
            self._base_url,
            str(index).lower(),
            batch,
        )
        self._request("DELETE", dataset_id, body=body, index=index, ids=batch)

    def _context(self, dataset_id: str, ids: list[int] | None) -> dict[str, Any]:
        """What every error of a call names: the instance, the dataset, a DELETE's ids."""
        return {"instance": self._base_url, "dataset_id": dataset_id, "ids": ids}

    def _backoff(self, attempt: int) -> float:
        with self._random_lock:
            return full_jitter(self.backoff_base, attempt, self._random)

    def _request(
        self,
        method: str,
        dataset_id: str,
        *,
        body: bytes | None = None,
        index: bool | None = None,
        ids: list[int] | None = None,
        stream_to: Callable[[Iterator[bytes]], None] | None = None,
        export: tuple[int, dict[str, str]] | None = None,
    ) -> requests.Response:
        """One logical call with the retry policy, all within the deadline; returns a
        2xx response whose body is read (or handed to ``stream_to``), or raises.
        ``export``: the version id and query of an export (a raw body, its own deadline)."""
        url = self.versions_url(dataset_id)
        params = {"index": "true" if index else "false"} if method == "DELETE" else None
        deadline = self.deadline
        headers = self._headers(json_body=body is not None)
        if export is not None:
            url, params, deadline = (
                self.export_url(dataset_id, export[0]),
                export[1],
                self.export_deadline,
            )
            headers.update({"Accept": "text/csv", "Accept-Encoding": "gzip"})
        deadline_at = time.monotonic() + deadline
        state = Attempts(self.max_attempts, self.max_retry_seconds, deadline_at)
        rules = RULES[method]
        unreachable: DomoError | None = None  # the last attempt could not even connect
        while True:
            state.number += 1
            self._throttle.wait(deadline_at)
            try:
                response = exchange(
                    self._session,
                    method,
                    url,
                    params=params,
                    body=body,
                    headers=headers,
                    timeout=self.timeout,
                    deadline_at=deadline_at,
                    stream_to=stream_to,
                    raw=export is not None,
                )
            except DeadlinePassed as passed:
                logger.warning(
                    "%s dataset %s: the %g s deadline passed", method, dataset_id, self.deadline
                )
                if unreachable is not None and not passed.sent:
                    raise unreachable from None  # never reached: say so, not "too slow"
                raise deadline_error(
                    passed.sent, method, deadline=deadline, **self._context(dataset_id, ids)
                ) from None
            except requests.RequestException as exc:
                error = transport_error(exc, method, **self._context(dataset_id, ids))
                unreachable = error if never_connected(exc) else None
                retry = rules.retries_transport(sent=not never_connected(exc))
                if retry and self._may_retry(
                    state, self._backoff(state.number), error, method, dataset_id
                ):
                    continue
                raise error from exc
            unreachable = None
            status = response.status_code
            if 200 <= status < 300:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            error = status_error(
                response, method, retry_after=retry_after, **self._context(dataset_id, ids)
            )
            # Domo's 403 "API Rate limit reached." is a throttle: it follows the 429 rule.
            throttled = status == 429 or isinstance(error, RateLimitedError)
            delay = retry_after if retry_after is not None else self._backoff(state.number)
            if throttled:  # every call of this client waits too, a DELETE's included
                self._throttle.pause(delay)
            if rules.retries_status(429 if throttled else status) and self._may_retry(
                state, delay, error, method, dataset_id
            ):
                response.close()
                continue
            raise error

    def _may_retry(
        self, state: Attempts, delay: float, error: DomoError, method: str, dataset_id: str
    ) -> bool:
        if state.number >= state.max_attempts:
            logger.warning(
                "%s dataset %s: giving up after %d attempt(s): %s",
                method,
                dataset_id,
                state.number,
                error.summary,
            )
            self._note_exhausted(error, reason=f"after {state.number} attempts")
            return False
        if state.waited + delay > state.budget:
            self._note_exhausted(
                error,
                reason=(
                    f"after {state.number} attempt(s): waiting {delay:.1f}s more would exceed "
                    f"max_retry_seconds={state.budget:g}"
                ),
            )
            logger.warning("%s dataset %s: retry budget exhausted", method, dataset_id)
            return False
        if time.monotonic() + delay >= state.deadline_at:
            self._note_exhausted(
                error,
                reason=(
                    f"after {state.number} attempt(s): waiting {delay:.1f}s more would pass "
                    f"the {self.deadline:g} s deadline"
                ),
            )
            return False
        logger.info(
            "%s dataset %s: %s; retrying in %.2fs (attempt %d of %d)",
            method,
            dataset_id,
            error.summary,
            delay,
            state.number + 1,
            state.max_attempts,
        )
        state.waited += delay
        if delay > 0:
            self._sleep(delay)
        return True

    @staticmethod
    def _note_exhausted(error: DomoError, *, reason: str) -> None:
        """Say in the error that retries ran out, and why."""
        error.hint = f"Gave up {reason}. {error.hint}".strip()


__all__ = [
    "CA_BUNDLE_ENV",
    "DEADLINE_ENV",
    "RETRY_STATUSES",
    "DomoClient",
    "normalize_instance",
    "parse_allowed_hosts",
    "parse_retry_after",
]
