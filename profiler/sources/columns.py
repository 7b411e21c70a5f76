"""Map a source's column names (LAION, img2dataset, DataComp, user-given) onto canonical names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from profiler.errors import UserError
from profiler.schema import KNOWN_ALIASES


@dataclass(frozen=True)
class ColumnMapping:
    """User overrides (canonical -> source column) on top of the known aliases."""

    overrides: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, pairs: Iterable[str]) -> ColumnMapping:
        """Parse CLI pairs like ``caption=alt_text``."""
        overrides: dict[str, str] = {}
        for pair in pairs:
            canonical, sep, source = pair.partition("=")
            if not sep or not canonical.strip() or not source.strip():
                raise UserError(
                    f"bad column mapping {pair!r}: write CANONICAL=SOURCE, e.g. caption=alt_text"
                )
            overrides[canonical.strip()] = source.strip()
        return cls(overrides)

    def resolve(self, available: Iterable[str], wanted: Iterable[str]) -> dict[str, str]:
        """Return canonical -> source column for each wanted column the source has."""
        present = list(available)
        resolved: dict[str, str] = {}
        for canonical in wanted:
            if canonical in self.overrides:
                if self.overrides[canonical] in present:
                    resolved[canonical] = self.overrides[canonical]
                continue
            for alias in (canonical, *KNOWN_ALIASES.get(canonical, ())):
                if alias in present:
                    resolved[canonical] = alias
                    break
        return resolved
