"""Type-check a filter tree against the tag schema and compile it to Arrow compute kernels.

Checking happens once, before any data is read, so a typo fails in milliseconds with a message
that names the column or value. Evaluation is vectorized over whole batches.

Unknown values follow SQL: a comparison with a missing value (a null `dataset.punsafe`) is
unknown, `not unknown` is unknown, and an unknown row never matches -- so `--drop` keeps rows a
filter cannot judge, and `--keep` leaves them out. `x is null` asks for them explicitly.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from profiler.curate.expr import (
    And,
    Column,
    Compare,
    IsNull,
    ListLiteral,
    Literal,
    Member,
    Node,
    Not,
    Or,
    columns_of,
    parse,
)
from profiler.errors import UserError

Value = pa.Array | pa.ChunkedArray | pa.Scalar
Evaluator = Callable[[pa.Table], Value]
_KERNELS = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
            ">": pc.greater, ">=": pc.greater_equal}
_ORDER_TESTS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
                ">": np.greater, ">=": np.greater_equal}


@dataclass(frozen=True)
class Vocabulary:
    """Known values of text columns: a typo'd value is an error, not a filter matching nothing.

    `ordered` columns also accept < <= > >= in their declared order (none < apparel < suggestive < explicit).
    """

    values: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ordered: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Filter:
    """A compiled filter: `columns` to read, `evaluate` (nullable booleans), `matches` (numpy)."""

    text: str
    columns: tuple[str, ...]
    _evaluate: Evaluator

    def evaluate(self, table: pa.Table) -> pa.Array:
        """True / false / null (unknown) per row."""
        value = self._evaluate(table)
        if isinstance(value, pa.Scalar):
            return pa.repeat(value.cast(pa.bool_()), table.num_rows)
        if isinstance(value, pa.ChunkedArray):
            return value.combine_chunks() if value.num_chunks else pa.array([], pa.bool_())
        return value

    def matches(self, table: pa.Table) -> np.ndarray:
        """Rows where the expression is true (unknown counts as not matching)."""
        return np.asarray(self.evaluate(table).fill_null(False).to_numpy(zero_copy_only=False), bool)


@dataclass(frozen=True)
class _Typed:
    kind: str  # bool, number, text, list:<kind>, null, other
    run: Evaluator
    column: str | None = None
    literal: object = None
    is_literal: bool = False


def compile_filter(text: str, schema: pa.Schema, vocabulary: Vocabulary | None = None) -> Filter:
    """Parse and type-check `text` against the tag `schema`; raise UserError on any mistake."""
    tree = parse(text)
    _check_columns(columns_of(tree), schema)
    typed = _Compiler(schema, vocabulary or Vocabulary()).node(tree)
    if typed.kind != "bool":
        what = f"the column {typed.column}" if typed.column else "a value"
        raise UserError(
            f"filter expression must be a condition (e.g. dataset.punsafe >= 0.5), not {what} "
            f"of type {typed.kind}"
        )
    return Filter(text, tuple(columns_of(tree)), typed.run)


def kind_of(data_type: pa.DataType) -> str:
    if pa.types.is_dictionary(data_type):
        return kind_of(data_type.value_type)
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "text"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return "list:" + kind_of(data_type.value_type)
    return "other"


def _check_columns(names: list[str], schema: pa.Schema) -> None:
    known = schema.names
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UserError(
                f"unknown column {name!r} in the filter expression: {hint}"
                f"this run's tag columns are {', '.join(known)}"
            )


class _Compiler:
    def __init__(self, schema: pa.Schema, vocabulary: Vocabulary):
        self.schema = schema
        self.vocabulary = vocabulary

    def node(self, node: Node) -> _Typed:
        if isinstance(node, Column):
            return self.column(node.name)
        if isinstance(node, Literal):
            return _literal(node.value)
        if isinstance(node, ListLiteral):
            raise UserError("filter expression: a list is only allowed after in")
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, IsNull):
            operand = self.node(node.operand)
            return _Typed("bool", lambda t: pc.is_null(operand.run(t)))
        if isinstance(node, Not):
            operand = self.condition(node.operand, "not")
            return _Typed("bool", lambda t: pc.invert(operand.run(t)))
        if isinstance(node, (And, Or)):
            word = "and" if isinstance(node, And) else "or"
            kernel = pc.and_kleene if word == "and" else pc.or_kleene
            parts = [self.condition(child, word) for child in node.operands]

            def combine(t: pa.Table) -> Value:
                result = parts[0].run(t)
                for part in parts[1:]:
                    result = kernel(result, part.run(t))
                return result

            return _Typed("bool", combine)
        raise UserError(f"filter expression: unsupported element {type(node).__name__}")

    def column(self, name: str) -> _Typed:
        data_type = self.schema.field(name).type

        def read(t: pa.Table) -> Value:
            values = t.column(name)
            if pa.types.is_dictionary(values.type):
                values = pc.cast(values, data_type.value_type)
            return values

        return _Typed(kind_of(data_type), read, column=name)

    def condition(self, node: Node, word: str) -> _Typed:
        typed = self.node(node)
        if typed.kind != "bool":
            what = typed.column or repr(typed.literal)
            raise UserError(f"filter expression: {word} needs conditions, but {what} is {typed.kind}")
        return typed

    def compare(self, node: Compare) -> _Typed:
        left, right = self.node(node.left), self.node(node.right)
        for side in (left, right):
            if side.kind.startswith("list:"):
                raise UserError(
                    f"{side.column} is a list column: test membership with "
                    f"'\"value\" in {side.column}' or '{side.column} contains \"value\"'"
                )
            if side.kind == "null":
                raise UserError("compare with null using 'is null' or 'is not null'")
            if side.kind == "other":
                raise UserError(f"column {side.column} has a type filters cannot compare")
        if left.kind != right.kind:
            raise UserError(
                f"cannot compare {_describe(left)} ({left.kind}) with {_describe(right)} ({right.kind})"
            )
        self.check_value(left, right)
        self.check_value(right, left)
        if node.op not in ("==", "!=") and left.kind == "bool":
            raise UserError(f"{node.op} is not defined for true/false values; use == or !=")
        if node.op not in ("==", "!=") and left.kind == "text":
            return self.ordered(node.op, left, right)
        kernel = _KERNELS[node.op]
        return _Typed("bool", lambda t: kernel(left.run(t), right.run(t)))

    def ordered(self, op: str, left: _Typed, right: _Typed) -> _Typed:
        """< > on a text column with a declared order, e.g. sexual_terms.level >= "suggestive"."""
        column, literal, flipped = (left, right, False) if right.is_literal else (right, left, True)
        order = self.vocabulary.ordered.get(column.column or "")
        if not order or not literal.is_literal:
            raise UserError(
                f"{op} compares text only on columns with a declared order "
                f"({', '.join(self.vocabulary.ordered) or 'none in this run'}); use == or in"
            )
        rank = list(order).index(str(literal.literal))
        test = _ORDER_TESTS[op]
        chosen = [v for i, v in enumerate(order) if (test(rank, i) if flipped else test(i, rank))]
        value_set = pa.array(chosen, pa.string())
        return _Typed("bool", lambda t: _is_in(column.run(t), value_set))

    def member(self, node: Member) -> _Typed:
        item = self.node(node.item)
        if isinstance(node.container, ListLiteral):
            if item.kind.startswith("list:"):
                raise UserError(
                    f"{item.column} is a list column: write '\"value\" in {item.column}' per value"
                )
            values = [_literal(v.value) for v in node.container.values]
            for value in values:
                if value.kind != item.kind:
                    raise UserError(
                        f"the list after in holds {_describe(value)} ({value.kind}) but "
                        f"{_describe(item)} is {item.kind}"
                    )
                self.check_value(item, value)
            value_set = pa.array([v.literal for v in values])
            return _Typed("bool", lambda t: _is_in(item.run(t), value_set))
        container = self.node(node.container)
        if not container.kind.startswith("list:"):
            raise UserError(
                f"{_describe(container)} is not a list column: write {_describe(container)} == value "
                f"or {_describe(container)} in [value, ...]"
            )
        if not item.is_literal:
            raise UserError(f"the value tested with in {container.column} must be a literal")
        element = container.kind.removeprefix("list:")
        if item.kind != element:
            raise UserError(f"{container.column} holds {element} values, not {_describe(item)}")
        self.check_value(container, item)
        return _Typed("bool", lambda t: _contains(container.run(t), item.literal))

    def check_value(self, column: _Typed, value: _Typed) -> None:
        """A text literal compared with a column of known values must be one of them."""
        if not (column.column and value.is_literal and isinstance(value.literal, str)):
            return
        known = self.vocabulary.values.get(column.column) or self.vocabulary.ordered.get(column.column)
        if known and value.literal not in known:
            close = difflib.get_close_matches(value.literal, list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(
                f"{value.literal!r} is not a value of {column.column}: {hint}"
                f"known values are {', '.join(known)}"
            )


def _literal(value: object) -> _Typed:
    if value is None:
        return _Typed("null", lambda t: pa.scalar(None), literal=None, is_literal=True)
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, (int, float)):
        kind = "number"
    else:
        kind = "text"
    scalar = pa.scalar(value)
    return _Typed(kind, lambda t: scalar, literal=value, is_literal=True)


def _describe(typed: _Typed) -> str:
    return typed.column if typed.column else repr(typed.literal)


def _is_in(values: Value, value_set: pa.Array) -> Value:
    """Membership that keeps unknown rows unknown (pc.is_in alone says false for nulls)."""
    if isinstance(values, pa.Scalar):
        return pa.scalar(values.as_py() in value_set.to_pylist() if values.is_valid else None, pa.bool_())
    found = pc.is_in(values, value_set=value_set)
    return pc.if_else(pc.is_valid(values), found, pa.scalar(None, pa.bool_()))


def _contains(lists: Value, value: object) -> pa.Array:
    """Per row: does the list hold `value`? Null lists give null, empty lists false."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], lists.type)
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), np.int64)
    hit = np.asarray(pc.equal(flat, pa.scalar(value)).fill_null(False).to_numpy(zero_copy_only=False), bool)
    found = np.bincount(parents[hit], minlength=n)[:n] > 0
    mask = np.asarray(lists.is_null().to_numpy(zero_copy_only=False), bool)
    return pa.array(found, pa.bool_(), mask=mask if mask.any() else None)
