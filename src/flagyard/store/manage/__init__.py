"""SQL adapters of the manage wing's ports: the unit of work and its repositories."""
