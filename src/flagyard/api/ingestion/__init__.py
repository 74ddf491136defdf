"""Event ingestion in Amplitude's HTTP V2 format: /2/httpapi and /batch."""
