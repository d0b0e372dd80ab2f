"""Portrait's benchmarks: each compares Portrait with a baseline measured in the same run."""
