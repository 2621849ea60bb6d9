"""Property-based fuzzing of every depslim parser (see tests/fuzz/targets.py for the list)."""
