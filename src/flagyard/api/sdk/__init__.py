"""The SDK edge: Amplitude's SDK routes (config, remote evaluation, streams, cohort download),
event ingestion and OpenFeature's OFREP."""
