"""Archive before delete: each version's rows exported, stored, read back and proved.

``archiver`` (Archiver and the delete loop's hook: export, store, verify the stored
object's size, sha256 and row count, then write the manifest) over ``store`` (the
storage targets: a local directory, S3, GCS, Azure, through obstore).

Depends on the Domo side only; the provider and the CLI use it, and the delete loop
takes it as a hook, so the deletion path does not import it.
"""
