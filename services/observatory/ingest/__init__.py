"""The ingest HTTP API: authenticate, validate, publish with confirms, answer 202."""
