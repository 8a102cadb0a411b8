"""Which Domo instance a client talks to: the token goes wherever this points.

``normalize_instance`` turns what a user wrote (``acme``, ``acme.domo.com``,
``https://acme.domo.com``, a loopback URL for the emulator, or an opted-in host) into one
base URL, and refuses everything else; ``parse_allowed_hosts`` reads that opt-in list.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from domo_versions_iac.domo.errors import ConfigurationError

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_INSTANCE_NAME = re.compile(rf"^{_LABEL}$")
_DOMO_HOST = re.compile(rf"^{_LABEL}\.domo\.com$")
_ALLOWED_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# Letters, digits and what a bare scheme://host[:port] needs: no @ ? # % \ or spaces.
_INSTANCE_CHARS = re.compile(r"^[A-Za-z0-9.:/\[\]-]+$")


def normalize_instance(instance: str, allowed_hosts: Iterable[str] = ()) -> str:
    """``acme`` / ``acme.domo.com`` / ``https://acme.domo.com`` → ``https://acme.domo.com``.

    The token goes wherever this points, so only Domo hosts pass: ``https://NAME.domo.com``;
    a loopback base URL (``http(s)://127.0.0.1:8123``, ``[::1]``, ``localhost``) for the
    emulator and tests; and ``https://HOST[:PORT]`` for a host named exactly in
    ``allowed_hosts`` (an explicit opt-in: ``domo:allowedHosts`` / ``DOMO_ALLOWED_HOSTS``).
    User info, paths, queries and fragments are refused.
    """
    if not isinstance(instance, str):
        raise ConfigurationError(
            f"Domo instance must be a string, not {type(instance).__name__}", hint=_INSTANCE_HINT
        )
    text = instance.strip()
    if text.endswith("/"):
        text = text[:-1]
    if not text:
        raise ConfigurationError("Domo instance is empty", hint=_INSTANCE_HINT)
    if not _INSTANCE_CHARS.match(text):
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a bare host or base URL "
            "(no user info, path, query or fragment)",
            hint=_INSTANCE_HINT,
        )
    if "://" not in text:
        host = text.lower()
        if _INSTANCE_NAME.match(host):
            return f"https://{host}.domo.com"
        if _DOMO_HOST.match(host):
            return f"https://{host}"
        raise ConfigurationError(
            f"Domo instance {instance!r} is not recognised", hint=_INSTANCE_HINT
        )
    scheme, host, port = _split_base_url(instance, text)
    if not _host_accepted(scheme, host, port, allowed_hosts):
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a Domo host", hint=_INSTANCE_HINT
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def instance_identity(base_url: str) -> str:
    """Which server a normalized base URL reaches, for telling two spellings apart.

    ``http://127.0.0.1:8123`` and ``http://localhost:8123`` are one server (every
    loopback spelling is ``loopback:PORT``, whatever the scheme); elsewhere the scheme,
    host and effective port (443 or 80 when not written). ``acme``, ``acme.domo.com``
    and ``https://acme.domo.com`` already normalize to one base URL.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if is_loopback(host):
        return f"loopback:{port}"
    return f"{parts.scheme}://{host}:{port}"


def _host_accepted(scheme: str, host: str, port: int | None, allowed: Iterable[str]) -> bool:
    """Loopback (http or https, any port); NAME.domo.com (https, default port); a host
    listed in ``allowed`` (https, any port)."""
    if is_loopback(host):
        return True
    if scheme != "https":
        return False
    if _DOMO_HOST.match(host) and port is None:
        return True
    return host in {entry.lower() for entry in allowed}


def _split_base_url(instance: str, text: str) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port) of a bare ``scheme://host[:port]``, else refused."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a valid URL", hint=_INSTANCE_HINT
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.path or port == 0:
        raise ConfigurationError(
            f"Domo instance {instance!r} must be a bare base URL such as https://acme.domo.com",
            hint=_INSTANCE_HINT,
        )
    if ":" in host:  # IPv6: one spelling, so equal addresses compare equal
        host = str(ipaddress.ip_address(host)) if _is_ip(host) else host
    return parts.scheme, host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (the emulator's addresses)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_allowed_hosts(value: object) -> tuple[str, ...]:
    """``"proxy.corp.example, domo.corp.example"`` (or a list) → exact lower-case host names.

    Each entry must be a plain host name: no scheme, port, path or wildcard.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError(
                    f"allowed hosts {text!r} is not a JSON list", hint=_ALLOWED_HINT
                ) from None
        else:
            value = re.split(r"[\s,]+", text)
    if not isinstance(value, (list, tuple)):
        raise ConfigurationError(
            f"allowed hosts must be a list of host names, not {type(value).__name__}",
            hint=_ALLOWED_HINT,
        )
    hosts: list[str] = []
    for entry in value:
        host = str(entry).strip().lower()
        if not host:
            continue
        if not _ALLOWED_HOST.match(host):
            raise ConfigurationError(
                f"allowed host {str(entry)!r} is not a plain host name", hint=_ALLOWED_HINT
            )
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


_INSTANCE_HINT = (
    "The `instance` must be 'acme', 'acme.domo.com' or 'https://acme.domo.com'; for the "
    "emulator and tests, a loopback base URL such as 'http://127.0.0.1:8123'; another host "
    "only as 'https://HOST[:PORT]' with HOST listed in stack config domo:allowedHosts or "
    "DOMO_ALLOWED_HOSTS (see README, Safety)."
)
_ALLOWED_HINT = (
    "List exact host names, separated by commas, e.g. 'domo-proxy.corp.example' "
    "(no scheme, port or wildcard)."
)


__all__ = ["instance_identity", "is_loopback", "normalize_instance", "parse_allowed_hosts"]
