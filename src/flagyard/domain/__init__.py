"""Management model: flags, experiments, deployments and their rules. No I/O."""
