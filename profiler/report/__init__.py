"""Outputs of a run: stats.json, CSV tables and the self-contained HTML report."""

from profiler.report.writer import render_html, write_outputs

__all__ = ["render_html", "write_outputs"]
