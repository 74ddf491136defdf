"""The serve wing's front door: `Serving` for every answer, the cohort download, the
propagator that keeps snapshots fresh (its state is what /ready reports), and the usage counter
the evaluations add to (flushed by a job)."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.serve.cohort_download import CohortDownloadService
from flagyard.serve.propagation import Propagator
from flagyard.serve.service import Serving
from flagyard.serve.usage import UsageCounter


@dataclass(frozen=True)
class ServeServices:
    serving: Serving
    cohort_download: CohortDownloadService
    propagator: Propagator
    usage: UsageCounter
