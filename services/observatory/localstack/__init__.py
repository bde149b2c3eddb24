"""Run the stack's servers as plain processes on loopback (no Docker): used by `make local`,
by the test fixtures and by the benchmarks, so all three start them the same way."""
