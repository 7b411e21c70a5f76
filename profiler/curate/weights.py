"""Per-sample weights that rebalance groups toward target shares of the person mentions.

Method: raking (iterative proportional fitting) over membership indicators. Each target is a
population cell (`east_asian`, `black:female`, `asian_any`) with a wanted share of the kept rows
that make an identity person mention. Rows belong to several cells at once (a caption can
mention two groups), so no single stratification exists; raking repeatedly rescales members of
one target to its share and the other person-mention rows to the rest, which preserves their
total weight, until every share holds. Weights depend only on which targets a row belongs to, so
raking runs on the counts of those membership patterns, and the weights file streams.

Rows without a person mention keep weight 1 and person-mention rows average weight 1: the
dataset's size and its people/no-people balance do not change. The effective sample size
(Kish: (sum w)^2 / sum w^2) says how much precision the rebalancing costs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from profiler.counting.populations import ALL, NO_IDENTITY, PERSON, Populations
from profiler.counting.populations import ANY_GENDER as ANY
from profiler.errors import UserError
from profiler.tomlcompat import tomllib

MAX_TARGETS = 60
MAX_ITERATIONS = 2000
TOLERANCE = 1e-9


def parse_targets(text: str) -> dict[str, float]:
    """`east_asian=0.1,black=0.1` or a TOML file (`[target_shares]` table or top-level keys)."""
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"target shares file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{path} is not valid TOML: {error}") from None
        raw = data.get("target_shares", data)
        items = list(raw.items()) if isinstance(raw, dict) else []
    else:
        items = []
        for pair in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = pair.partition("=")
            if not sep:
                raise UserError(f"bad target share {pair!r}: write GROUP=SHARE, e.g. east_asian=0.1")
            items.append((name.strip(), value.strip()))
    targets: dict[str, float] = {}
    for name, value in items:
        try:
            share = float(value)
        except (TypeError, ValueError):
            raise UserError(f"target share for {name} must be a number, got {value!r}") from None
        if not 0 < share < 1:
            raise UserError(f"target share for {name} must be strictly between 0 and 1, got {share:g}")
        targets[name] = share
    if not targets:
        raise UserError("no target shares given: write e.g. --target-shares east_asian=0.1,black=0.1")
    if len(targets) > MAX_TARGETS:
        raise UserError(f"at most {MAX_TARGETS} target shares")
    return targets


def target_cells(targets: dict[str, float], populations: Populations) -> list[tuple[str, str]]:
    """Map `group` / `group:gender` names onto population cells; UserError for unknown ones."""
    index = populations.index()
    cells = []
    for name in targets:
        population, _, gender = name.partition(":")
        cell = (population, gender or ANY)
        if cell not in index or population in (ALL, NO_IDENTITY) or cell == (PERSON, ANY):
            known = ", ".join([*populations.groups, *populations.aggregates])
            raise UserError(
                f"unknown target {name!r}: use a group or aggregate "
                f"({known or 'none: this run has no identity tags'}), "
                "optionally with :female, :male or :unspecified"
            )
        cells.append(cell)
    return cells


@dataclass
class Raking:
    """Collects membership-pattern counts of kept person-mention rows, then solves for weights."""

    names: list[str]
    shares: list[float]
    cells: list[int]  # cell ids in Populations.cells
    person_cell: int
    patterns: Counter = field(default_factory=Counter)
    solution: dict[int, float] = field(default_factory=dict)

    def codes(self, rows: np.ndarray, cells: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(pattern bitmask, is person mention) per row of a batch."""
        code = np.zeros(n, np.int64)
        for bit, cell in enumerate(self.cells):
            code[rows[cells == cell]] |= np.int64(1) << bit
        person = np.zeros(n, bool)
        person[rows[cells == self.person_cell]] = True
        return code, person

    def add(self, rows: np.ndarray, cells: np.ndarray, kept: np.ndarray) -> None:
        code, person = self.codes(rows, cells, len(kept))
        values, counts = np.unique(code[kept & person], return_counts=True)
        self.patterns.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))

    def solve(self) -> dict[str, Any]:
        """Rake; returns the summary (shares before / after, effective sample size). UserError when
        the targets contradict each other (raking does not converge)."""
        codes = np.array(list(self.patterns), np.int64)
        counts = np.array([self.patterns[c] for c in codes], float)
        if not len(codes):
            raise UserError("no kept row makes an identity person mention: nothing to rebalance")
        members = [(codes >> bit) & 1 == 1 for bit in range(len(self.cells))]
        for name, member in zip(self.names, members, strict=True):
            if not member.any():
                raise UserError(f"no kept person-mention row is in {name}: it cannot get a share")
            if member.all():
                raise UserError(f"every kept person-mention row is in {name}: its share cannot change")
        weight = np.ones(len(codes))
        before = self._shares(counts, weight, members)
        iterations, converged = 0, False
        while iterations < MAX_ITERATIONS and not converged:
            iterations += 1
            for target, member in zip(self.shares, members, strict=True):
                share = (counts * weight)[member].sum() / (counts * weight).sum()
                weight[member] *= target / share
                weight[~member] *= (1 - target) / (1 - share)
            achieved = self._shares(counts, weight, members)
            converged = max(abs(a - t) for a, t in zip(achieved, self.shares, strict=True)) < TOLERANCE
        if not converged:
            reached = ", ".join(f"{n} {a:.1%}" for n, a in
                                zip(self.names, self._shares(counts, weight, members), strict=True))
            raise UserError(
                f"the target shares cannot hold together (the groups overlap or cover every person "
                f"mention; raking reached {reached}): lower some targets"
            )
        self.solution = dict(zip(codes.tolist(), weight.tolist(), strict=True))
        total = counts.sum()
        return {
            "method": "raking (iterative proportional fitting) over membership indicators; "
                      "shares are of kept rows with an identity person mention",
            "targets": dict(zip(self.names, self.shares, strict=True)),
            "shares_before": dict(zip(self.names, before, strict=True)),
            "shares_after": dict(zip(self.names, self._shares(counts, weight, members), strict=True)),
            "converged": converged, "iterations": iterations,
            "person_rows": int(total),
            "effective_sample_size": float((counts * weight).sum() ** 2 / (counts * weight**2).sum()),
            "min_weight": float(weight.min()), "max_weight": float(weight.max()),
        }

    def weights(self, rows: np.ndarray, cells: np.ndarray, n: int) -> np.ndarray:
        """Per-row weights of a batch (1 for rows without a person mention)."""
        code, person = self.codes(rows, cells, n)
        out = np.ones(n)
        if person.any():
            lookup = np.vectorize(lambda c: self.solution.get(int(c), 1.0), otypes=[float])
            uniques, inverse = np.unique(code[person], return_inverse=True)
            out[person] = lookup(uniques)[inverse]
        return out

    @staticmethod
    def _shares(counts: np.ndarray, weight: np.ndarray, members: list[np.ndarray]) -> list[float]:
        total = (counts * weight).sum()
        return [float((counts * weight)[m].sum() / total) for m in members]


def build_raking(targets: dict[str, float], populations: Populations) -> Raking:
    index = populations.index()
    cells = target_cells(targets, populations)
    return Raking(list(targets), list(targets.values()), [index[c] for c in cells], index[(PERSON, ANY)])
