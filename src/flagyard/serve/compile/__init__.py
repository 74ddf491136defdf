"""The evaluation compiler: management documents -> Amplitude evaluation flags."""
