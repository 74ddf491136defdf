"""SQL adapters for the serve wing: the change feed and cohort membership reads."""
