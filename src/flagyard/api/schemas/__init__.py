"""Request bodies. Wire names (camelCase) live here and nowhere else."""
