"""ClickHouse access: client from a DSN, versioned migrations, analytics SQL."""
