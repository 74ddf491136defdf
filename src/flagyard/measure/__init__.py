"""The measure wing: event uploads -> exposures and totals -> experiment results."""
