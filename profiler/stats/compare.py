"""What changed between two runs (dataset versions): rates, rate ratios, and whether it matters.

Both runs are treated as independent samples. For each cell present in both with enough rows:
the rate difference with a Newcombe interval and Fisher's exact test; for groups, the change of
their rate ratio against all person mentions (log ratio-of-ratios with a standard error taken
from each run's interval). Benjamini-Hochberg over all changes tested.
"""

from __future__ import annotations

import math
from typing import Any

from profiler.defaults import ALPHA, CONFIDENCE, MIN_SUPPORT
from profiler.stats.fisher import fisher_p
from profiler.stats.rates import benjamini_hochberg, two_sided_z


def compare_documents(
    baseline: dict[str, Any], current: dict[str, Any], alpha: float = ALPHA,
    confidence: float = CONFIDENCE, min_support: int = MIN_SUPPORT,
) -> dict[str, Any]:
    """Compare two stats.json documents: `baseline` (older) and `current`."""
    from scipy.stats import norm
    from statsmodels.stats.proportion import confint_proportions_2indep

    before = {_key(c): c for c in baseline["cells"]}
    z = two_sided_z(confidence)
    changes = []
    for cell in current["cells"]:
        old = before.get(_key(cell))
        if old is None or min(cell["n"], old["n"]) < min_support:
            continue
        low, high = confint_proportions_2indep(
            cell["k"], cell["n"], old["k"], old["n"], compare="diff", method="newcomb",
            alpha=1 - confidence)
        change = {
            "population": cell["population"], "gender": cell["gender"], "signal": cell["signal"],
            "n_before": old["n"], "rate_before": old["k"] / old["n"],
            "n_after": cell["n"], "rate_after": cell["k"] / cell["n"],
            "difference": cell["k"] / cell["n"] - old["k"] / old["n"],
            "diff_low": float(low), "diff_high": float(high),
            "p_value": fisher_p(cell["k"], cell["n"], old["k"], old["n"]),
            "rr_before": old.get("rate_ratio"), "rr_after": cell.get("rate_ratio"),
            "rr_change": None, "rr_change_low": None, "rr_change_high": None, "rr_p_value": None,
            "q_value": None, "significant": None, "rr_q_value": None, "rr_significant": None,
        }
        _ratio_change(change, old, cell, z, norm)
        changes.append(change)
    tested = [(c, "p_value") for c in changes] + [
        (c, "rr_p_value") for c in changes if c["rr_p_value"] is not None]
    q_values, rejected = benjamini_hochberg([c[field] for c, field in tested], alpha)
    for (change, field), q, reject in zip(tested, q_values, rejected, strict=True):
        prefix = "rr_" if field == "rr_p_value" else ""
        change[f"{prefix}q_value"], change[f"{prefix}significant"] = q, reject
    return {
        "baseline": _describe(baseline), "current": _describe(current),
        "versions_differ": baseline.get("taxonomy_versions") != current.get("taxonomy_versions"),
        "settings": {"alpha": alpha, "confidence": confidence, "min_support": min_support},
        "changes": changes,
    }


def _key(cell: dict) -> tuple[str, str, str]:
    return cell["population"], cell["gender"], cell["signal"]


def _ratio_change(change: dict, old: dict, new: dict, z: float, norm) -> None:
    """Change of a group's rate ratio vs all person mentions, as a ratio of ratios."""
    needed = ("rate_ratio", "rr_low", "rr_high")
    if any(not old.get(f) or not new.get(f) for f in needed):
        return
    if old.get("reference") != new.get("reference"):
        return
    se_old = (math.log(old["rr_high"]) - math.log(old["rr_low"])) / (2 * z)
    se_new = (math.log(new["rr_high"]) - math.log(new["rr_low"])) / (2 * z)
    log_change = math.log(new["rate_ratio"]) - math.log(old["rate_ratio"])
    se = math.hypot(se_old, se_new)
    if se == 0:
        return
    change["rr_change"] = math.exp(log_change)
    change["rr_change_low"] = math.exp(log_change - z * se)
    change["rr_change_high"] = math.exp(log_change + z * se)
    change["rr_p_value"] = float(2 * norm.sf(abs(log_change) / se))


def _describe(document: dict) -> dict:
    run = document.get("run", {})
    return {"name": run.get("name"), "created": run.get("created"),
            "rows": document.get("rows", {}).get("tagged"),
            "taxonomy_versions": document.get("taxonomy_versions")}
