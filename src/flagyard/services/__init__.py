"""Use cases. Each call runs in one unit of work and returns domain objects."""
