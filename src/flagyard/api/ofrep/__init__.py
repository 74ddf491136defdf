"""The OpenFeature Remote Evaluation Protocol (OFREP) edge."""
