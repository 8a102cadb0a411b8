"""The ``domo-versions`` command: ``main`` (the click commands), ``common`` (what every
command shares), ``archive`` (``archive ...``), ``report`` + ``report_chart`` (``report``),
``render`` (the text and JSON it prints) and ``reference`` (docs/reference.md from the
JSON Schemas).

The top of the import graph: it may use every other part; nothing imports it.
"""
