"""flagyard: a self-hosted server for feature flags and experiments."""

__version__ = "0.1.0"
