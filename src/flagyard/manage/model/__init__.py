"""The management model and its rules. No I/O."""
