"""Statistical defaults, in one place: every command, config key and function default reads them."""

# Cells with fewer rows are suppressed (no rate, no test): a rate on a handful of rows misleads.
MIN_SUPPORT = 30
# Confidence level of every interval (Wilson, rate / odds ratios, bootstrap, amplification).
CONFIDENCE = 0.95
# False discovery rate of the Benjamini-Hochberg step over a run's tests.
ALPHA = 0.05
