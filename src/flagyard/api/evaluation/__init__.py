"""SDK endpoints: what Amplitude's Experiment SDKs call, authenticated by a deployment key."""
