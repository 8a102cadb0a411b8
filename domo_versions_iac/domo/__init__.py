"""The Domo side: talking to Domo's data-versions API, and what it returns.

``models`` (DataVersion, the bottom of every import), ``errors`` (the one exception
hierarchy), ``client`` (DomoClient) over ``transport`` (one deadline-bounded exchange),
``retry`` (what is retried, as data), ``http_errors`` (statuses and transport failures
into errors), ``listing`` (decoding a listing as it arrives), ``instance`` (which hosts
are Domo), ``credentials`` (where the instance and token come from), ``throttle``
(a 429 pauses every call of a client) and ``settings`` (environment settings, checked).

Imports nothing above it: no policy, no deletion, no Pulumi, no CLI.
"""
