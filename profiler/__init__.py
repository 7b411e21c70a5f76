"""dataset-bias-profiler: demographic x sexualized-content skew in image-text training data."""

__version__ = "0.1.0"
