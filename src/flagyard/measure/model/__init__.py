"""Events, exposures, metrics and their filters, and what tracking asks for. No I/O."""
