"""Load and micro-benchmarks; run from the repository root with ``python -m benchmarks.<name>``."""
