"""The measure wing's front door: event ingestion, experiment results and bandits' splits."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.measure.bandits import BanditAllocator
from flagyard.measure.ingestion import IngestionService
from flagyard.measure.results import ResultsService
from flagyard.measure.results_watch import ResultsWatch


@dataclass(frozen=True)
class MeasureServices:
    ingestion: IngestionService
    results: ResultsService
    bandits: BanditAllocator
    watch: ResultsWatch  # what running experiments' results show, for webhooks
