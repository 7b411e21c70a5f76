"""Filter impact as a readable text table (the command's output) and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

BASE_COLUMNS = (
    "population", "gender", "label", "kind", "n_before", "removed", "n_after", "suppressed",
    "share_before", "share_before_low", "share_before_high", "share_after", "share_after_low",
    "share_after_high", "removed_rate", "removed_low", "removed_high", "amplification",
    "amplification_low", "amplification_high", "flag",
)
SIGNAL_FIELDS = ("n", "k", "rate", "low", "high", "suppressed")


def impact_csv(result: dict[str, Any]) -> bytes:
    """One row per population x gender cell; signal columns `<signal>.<before|after>.<field>`."""
    signals = list(result["cells"][0]["signals"]) if result["cells"] else []
    header = [*BASE_COLUMNS, *(f"{s}.{when}.{f}" for s in signals for when in ("before", "after")
                              for f in SIGNAL_FIELDS)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for cell in result["cells"]:
        row = [cell[c] for c in BASE_COLUMNS]
        row += [cell["signals"][s][when][f] for s in signals for when in ("before", "after")
                for f in SIGNAL_FIELDS]
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8")


def impact_text(result: dict[str, Any], signal_labels: dict[str, str], min_support: int) -> str:
    """Two plain-text tables: what the filter removes per cell, and what sexualized content is left."""
    overall = result["overall"]
    verb = "drop rows where" if result["mode"] == "drop" else "keep only rows where"
    lines = [f"Filter: {verb} {result['expression']}",
             f"Removed {overall['removed']:,} of {overall['n']:,} tagged rows "
             f"({_rate(overall['removed_rate'], overall['removed_low'], overall['removed_high'])})."]
    if overall["unjudged"]:
        lines.append(f"{overall['unjudged']:,} rows lack the values the filter needs: they are "
                     f"{overall['unjudged_rows_are']}.")
    lines.append(f"Amplification = removed fraction / overall removed fraction; cells under "
                 f"{min_support} rows are suppressed; intervals are 95% and not adjusted for "
                 f"multiple comparisons.")
    rows = [("Population", "n", "removed", "removed % [CI]", "amplification [CI]",
             "share of person mentions before -> after")]
    for cell in result["cells"]:
        name = _name(cell)
        if cell["suppressed"]:
            rows.append((name, f"{cell['n_before']:,}", f"{cell['removed']:,}",
                         f"under {min_support}: suppressed", "", ""))
            continue
        share = ""
        if cell["share_before"] is not None:
            share = f"{cell['share_before']:.1%} -> {cell['share_after']:.1%} " \
                    f"[{cell['share_after_low']:.1%}-{cell['share_after_high']:.1%}]"
        amp = _ratio(cell["amplification"], cell["amplification_low"], cell["amplification_high"])
        if cell["flag"]:
            amp += f" {cell['flag']}"
        rows.append((name, f"{cell['n_before']:,}", f"{cell['removed']:,}",
                     _rate(cell["removed_rate"], cell["removed_low"], cell["removed_high"]), amp, share))
    lines += ["", *_grid(rows)]
    signals = list(result["cells"][0]["signals"]) if result["cells"] else []
    if signals:
        header = ("Sexualized rate before -> after", *(signal_labels.get(s, s) for s in signals))
        grid = [header]
        for cell in result["cells"]:
            if cell["suppressed"]:
                continue
            grid.append((_name(cell), *(_before_after(cell["signals"][s]) for s in signals)))
        lines += ["", *_grid(grid)]
    return "\n".join(lines)


def _name(cell: dict[str, Any]) -> str:
    return cell["label"] if cell["gender"] == "*" else f"  {cell['gender']}"


def _rate(rate: float | None, low: float | None, high: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.1%} [{low:.1%}-{high:.1%}]"


def _ratio(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} [{low:.2f}-{high:.2f}]"


def _before_after(signal: dict[str, dict[str, Any]]) -> str:
    before, after = signal["before"], signal["after"]
    first = "-" if before["rate"] is None else f"{before['rate']:.1%}"
    if after["rate"] is None:
        second = f"n={after['n']:,}, suppressed" if after["n"] else "-"
    else:
        second = _rate(after["rate"], after["low"], after["high"])
    return f"{first} -> {second}"


def _grid(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), *(v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True))]
        out.append("  ".join(cells).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def weights_text(summary: dict[str, Any]) -> str:
    """What the rebalancing weights achieve, and what they cost in effective sample size."""
    lines = ["Rebalancing weights (share of kept person mentions: before -> target -> weighted)"]
    for name, target in summary["targets"].items():
        lines.append(f"  {name}: {summary['shares_before'][name]:.1%} -> {target:.1%} -> "
                     f"{summary['shares_after'][name]:.1%}")
    lines.append(f"  weights {summary['min_weight']:.3g} to {summary['max_weight']:.3g}; effective sample "
                 f"size {summary['effective_sample_size']:,.0f} of {summary['person_rows']:,} person rows")
    return "\n".join(lines)
