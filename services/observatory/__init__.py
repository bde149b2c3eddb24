"""Observatory: self-hosted observability and product analytics services."""

__version__ = "0.1.0"
