"""Shared test settings. Fixtures that start real servers live in tests/integration/conftest.py."""
