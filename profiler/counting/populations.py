"""Populations: who is in which population x gender cell. The one home of these rules.

Populations are `all`, `person_mention` (any identity person mention), `no_identity` (none), each
taxonomy group and each aggregate (`asian_any`). A row joins a group cell through the `group:gender`
pairs of its mentions, so "Japanese woman and Nigerian man" is in East Asian female and Black male,
and every group cell is a subset of the `person_mention` cell of the same gender. Each
(row, cell) pair counts once.

Which tag columns carry the mentions is declared by a tagger (`profiler.taggers.base.Membership`);
counting, curation and the report all use this module, so the rules exist once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.counting.languages import CODE as LANGUAGE_CODE
from profiler.counting.languages import covered_rows
from profiler.schema import GENDERS
from profiler.taggers import Membership, population_membership

ALL, PERSON, NO_IDENTITY = "all", "person_mention", "no_identity"
SPECIAL_POPULATIONS = (ALL, PERSON, NO_IDENTITY)
SPECIAL_LABELS = {
    ALL: "All captions",
    PERSON: "Any identity person mention",
    NO_IDENTITY: "No identity person mention",
}
ANY_GENDER = "*"
GENDER_AXIS = (ANY_GENDER, *GENDERS)
# Genders a threshold sweep reports (mixed / unspecified / none cells are too thin to sweep).
SWEEP_GENDERS = (ANY_GENDER, "female", "male")
HIST_BINS = 20


def aggregate_label(aggregate: str) -> str:
    """`asian_any` -> "Asian (any)"."""
    return aggregate.replace("_any", "").replace("_", " ").title() + " (any)"


def population_labels(groups: Mapping[str, str], aggregates: Sequence[str]) -> dict[str, str]:
    """Display labels: the special populations, the taxonomy's group labels, the aggregates."""
    labels = dict(SPECIAL_LABELS)
    labels.update(groups)
    labels.update({a: aggregate_label(a) for a in aggregates})
    return labels


def population_kind(population: str, aggregates: Mapping[str, object] | Sequence[str]) -> str:
    """`all`, `reference` (person_mention, no_identity), `aggregate` or `group`."""
    if population == ALL:
        return "all"
    if population in (PERSON, NO_IDENTITY):
        return "reference"
    return "aggregate" if population in aggregates else "group"


@dataclass(frozen=True)
class Part:
    """Rows (None: every row) and the flat population x gender cell (p * G + g) each one is in.

    `any_cell`: each row also counts once there (its population's any-gender cell).
    """

    rows: np.ndarray | None
    cells: np.ndarray
    any_cell: int | None = None

    def _take(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def add(self, flat: np.ndarray, size: int) -> None:
        """Count the rows in each cell (flat over `size` cells)."""
        flat += np.bincount(self.cells, minlength=size)
        if self.any_cell is not None:
            flat[self.any_cell] += len(self.cells)

    def add_outcomes(self, flat: np.ndarray, outcome: np.ndarray, k: int, size: int) -> None:
        """Tally a per-row outcome code in [0, k) per cell: flat is (size * k)."""
        codes = self._take(outcome)
        flat += np.bincount(self.cells * k + codes, minlength=size * k)
        if self.any_cell is not None:
            flat[self.any_cell * k : (self.any_cell + 1) * k] += np.bincount(codes, minlength=k)

    def add_hist(self, flat: np.ndarray, valid: np.ndarray, bins: np.ndarray, size: int) -> None:
        keep = self._take(valid)
        b = self._take(bins)[keep]
        flat += np.bincount(self.cells[keep] * HIST_BINS + b, minlength=size * HIST_BINS)
        if self.any_cell is not None:
            flat[self.any_cell * HIST_BINS : (self.any_cell + 1) * HIST_BINS] += np.bincount(
                b, minlength=HIST_BINS
            )

    def pairs(self, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(row, flat cell) pairs, the any-gender cell included."""
        rows = np.arange(n_rows) if self.rows is None else self.rows
        if self.any_cell is None:
            return rows, self.cells
        return np.concatenate([rows, rows]), np.concatenate([self.cells, np.full(len(rows), self.any_cell)])


@dataclass(frozen=True)
class Populations:
    """The population axis of a run (from the identity taxonomy) and its membership rules."""

    groups: tuple[str, ...]
    aggregates: dict[str, tuple[str, ...]]
    membership: Membership | None = None  # None: the registered tagger's declaration
    languages: tuple[str, ...] = ()  # the identity lexicon's; rows in others leave no_identity

    @property
    def names(self) -> list[str]:
        return [*SPECIAL_POPULATIONS, *self.groups, *self.aggregates]

    @property
    def columns(self) -> Membership:
        return self.membership or population_membership()

    def tag_columns(self) -> tuple[str, ...]:
        """The tag columns `assign` reads (the row gender only splits cells curation omits; the
        language code decides who the lexicon could read)."""
        return (self.columns.person, self.columns.mentions, *((LANGUAGE_CODE,) if self.languages else ()))

    def parts(self, tags: pa.Table) -> list[Part]:
        """Each row's population x gender cells (flat over `names` x GENDER_AXIS), once per row."""
        g_axis = len(GENDER_AXIS)
        columns = self.columns
        if columns.person not in tags.column_names:
            none = GENDER_AXIS.index("none")
            return [Part(None, np.full(tags.num_rows, none, np.int64), any_cell=0)]
        if columns.gender in tags.column_names:
            gender = pc.index_in(tags.column(columns.gender), value_set=pa.array(GENDER_AXIS)).fill_null(
                GENDER_AXIS.index("none")).to_numpy(zero_copy_only=False).astype(np.int64)
        else:
            gender = np.full(tags.num_rows, GENDER_AXIS.index("none"), np.int64)
        person = np.asarray(tags.column(columns.person).fill_null(False).to_numpy(zero_copy_only=False), bool)
        covered = covered_rows(tags, self.languages)  # rows the lexicon cannot read are not "none"
        no_identity = np.flatnonzero(~person if covered is None else ~person & covered)
        no_identity_pop = SPECIAL_POPULATIONS.index(NO_IDENTITY)
        parts = [
            Part(None, gender, any_cell=0),
            Part(no_identity, no_identity_pop * g_axis + gender[no_identity], no_identity_pop * g_axis),
        ]
        rows, cells = self._mention_cells(tags)
        if len(rows):
            parts.append(Part(rows, cells))
        return parts

    def _mention_cells(self, tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(row, cell) pairs from the mentions ("group:gender"): person_mention, groups and
        aggregates, by mention gender and any gender, deduplicated within a row."""
        g_axis = len(GENDER_AXIS)
        n_populations = len(self.names)
        genders = self.columns.mention_genders
        mentions = tags.column(self.columns.mentions)
        if isinstance(mentions, pa.ChunkedArray):
            mentions = mentions.combine_chunks() if mentions.num_chunks else pa.array([], mentions.type)
        names = [f"{g}:{s}" for g in self.groups for s in genders]
        codes = pc.index_in(pc.list_flatten(mentions), value_set=pa.array(names, pa.string())).to_numpy(
            zero_copy_only=False
        )
        owner = np.asarray(pc.list_parent_indices(mentions).to_numpy(zero_copy_only=False), np.int64)
        known = ~np.isnan(codes.astype(float))
        codes, owner = codes[known].astype(np.int64), owner[known]
        if not len(codes):
            return owner, codes
        group = codes // len(genders)
        m_gender = np.array([GENDER_AXIS.index(s) for s in genders])[codes % len(genders)]
        base = len(SPECIAL_POPULATIONS)
        pops = [np.full(len(codes), SPECIAL_POPULATIONS.index(PERSON)), base + group]
        group_index = {g: i for i, g in enumerate(self.groups)}
        for a, members in enumerate(self.aggregates.values()):
            member = np.isin(group, [group_index[m] for m in members])
            pops.append(np.where(member, base + len(self.groups) + a, -1))
        pop = np.concatenate(pops)
        row = np.tile(owner, len(pops))
        gender = np.tile(m_gender, len(pops))
        keep = pop >= 0
        pop, row, gender = pop[keep], row[keep], gender[keep]
        # each (row, population) once in the any-gender cell, each (row, population, gender) once
        cells = np.concatenate([pop * g_axis, pop * g_axis + gender])
        width = n_populations * g_axis
        unique = distinct(np.concatenate([row, row]) * width + cells)
        return unique // width, unique % width

    # -- the cell list of curation tables -------------------------------------------------------

    @property
    def cells(self) -> list[tuple[str, str]]:
        """(population, gender) cells curation reports, in report order: all and no_identity at
        any gender, then person_mention, groups and aggregates at any gender and each mention gender."""
        cells = [(ALL, ANY_GENDER), (NO_IDENTITY, ANY_GENDER)]
        for population in [PERSON, *self.groups, *self.aggregates]:
            cells.extend((population, g) for g in (ANY_GENDER, *self.columns.mention_genders))
        return cells

    def index(self) -> dict[tuple[str, str], int]:
        return {cell: i for i, cell in enumerate(self.cells)}

    def assign(self, tags: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(row, index into `cells`) pairs for a batch, each pair once; every row is in (all, *)."""
        lookup = self.cell_lookup()
        rows, cells = [], []
        for part in self.parts(tags):
            r, c = part.pairs(tags.num_rows)
            mapped = lookup[c]
            keep = mapped >= 0
            rows.append(r[keep])
            cells.append(mapped[keep])
        return np.concatenate(rows).astype(np.int64), np.concatenate(cells).astype(np.int64)

    def cell_lookup(self) -> np.ndarray:
        """Flat population x gender cell -> index into `cells` (-1: not a curation cell)."""
        lookup = np.full(len(self.names) * len(GENDER_AXIS), -1, np.int64)
        for i, (population, gender) in enumerate(self.cells):
            lookup[self.names.index(population) * len(GENDER_AXIS) + GENDER_AXIS.index(gender)] = i
        return lookup


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted unique values by sort and compare (several times faster here than np.unique's
    hash path in numpy 2.x)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
