"""SQL adapters of the measure wing's ports: events, exposures, sums, the event writer."""
