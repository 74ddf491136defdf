"""The measure wing's front door: event ingestion and experiment results."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.measure.ingestion import IngestionService
from flagyard.measure.results import ResultsService


@dataclass(frozen=True)
class MeasureServices:
    ingestion: IngestionService
    results: ResultsService
