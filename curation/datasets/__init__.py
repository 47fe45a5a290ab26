"""Corpus generators: the seeded sample corpus used by `make run`, tests and benchmarks."""
