"""Students: their records (models, service, repository), the Idempotency-Key records of their creation, and the
bulk import from CSV (importer, import_repository)."""
