"""The deletion path: the one rule every DELETE obeys, and the loop that obeys it.

``gate`` (deletable_ids, pure: shown AND surplus against a fresh listing AND not
protected), ``loop`` (apply_retention: list, gate, send one batch, list again) and
``id_ranges`` (the ranges in which planned and kept ids travel through Pulumi).

Depends on the policy and the Domo side, never on Pulumi or the CLI.
"""
