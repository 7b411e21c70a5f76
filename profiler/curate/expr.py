"""Filter expressions: a small hand-written parser (never `eval`) producing a syntax tree.

Grammar (keywords case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand ( (== != < <= > >=) operand )*          # chains: 0.2 <= x < 0.5
                | operand ["not"] "in" (list | operand)           # x in [..]; "v" in list_column
                | operand ["not"] "contains" operand              # list_column contains "v"
                | operand "is" ["not"] "null"
    operand    := column | literal | "(" expr ")"
    list       := "[" literal ("," literal)* [","] "]"
    literal    := 'text' | "text" | number | true | false | null

A column is a dotted name (`dataset.punsafe`, `clip.sexual_score`) or a `back-quoted` name.
The grammar has no calls, attributes, subscripts, lambdas or comprehensions, so nothing a user
types can run code: anything outside it is a syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from profiler.errors import UserError

MAX_LENGTH = 10_000
MAX_DEPTH = 64
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
KEYWORDS = {"and", "or", "not", "in", "contains", "is", "null", "none", "true", "false"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
_HINTS = {"=": "use == to compare", "&": "use and", "|": "use or", "!": "use not or !=",
          "&&": "use and", "||": "use or"}


# -- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class ListLiteral:
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Member:
    """`item in container`: container is a list literal or a list column."""

    item: Node
    container: Node


@dataclass(frozen=True)
class IsNull:
    operand: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Column | Literal | ListLiteral | Compare | Member | IsNull | Not | And | Or


def columns_of(node: Node) -> list[str]:
    """Column names a tree reads, in order of first use (the projection to read)."""
    found: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Column):
            if n.name not in found:
                found.append(n.name)
        elif isinstance(n, (Compare, Member)):
            walk(n.left if isinstance(n, Compare) else n.item)
            walk(n.right if isinstance(n, Compare) else n.container)
        elif isinstance(n, (IsNull, Not)):
            walk(n.operand)
        elif isinstance(n, (And, Or)):
            for child in n.operands:
                walk(child)

    walk(node)
    return found


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, keyword, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise UserError(f"filter expression is longer than {MAX_LENGTH} characters")
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            bad = text[pos : pos + 2] if text[pos : pos + 2] in _HINTS else text[pos]
            hint = _HINTS.get(bad, "allowed: comparisons, and/or/not, in, contains, is null, "
                                   "parentheses, lists and literals")
            raise UserError(f"filter expression: unexpected {bad!r} at character {pos + 1} ({hint})")
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "keyword", value.lower()
        if kind != "space":
            tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# -- parser ------------------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse a filter expression into a tree; a UserError names what is wrong and where."""
    if not text.strip():
        raise UserError("filter expression is empty: write e.g. 'dataset.punsafe >= 0.5'")
    return _Parser(tokenize(text)).parse()


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        t = self.token
        return t.kind == kind and (text is None or t.text == text)

    def expect(self, kind: str, text: str) -> None:
        if not self.at(kind, text):
            self.fail(f"expected {text!r}")
        self.advance()

    def fail(self, what: str) -> NoReturn:
        t = self.token
        found = "the end" if t.kind == "end" else repr(t.text)
        raise UserError(f"filter expression: {what} at character {t.pos + 1}, found {found}")

    def parse(self) -> Node:
        node = self.or_expr()
        if not self.at("end"):
            if self.at("op", "("):
                self.fail("calls are not allowed (only comparisons of columns and literals)")
            self.fail("expected and / or / end of expression")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at("keyword", "or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at("keyword", "and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.at("keyword", "not"):
            self.advance()
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.at("keyword", "is"):
            self.advance()
            negate = self.at("keyword", "not")
            if negate:
                self.advance()
            if not (self.at("keyword", "null") or self.at("keyword", "none")):
                self.fail("expected null after is")
            self.advance()
            return Not(IsNull(left)) if negate else IsNull(left)
        negate = False
        if self.at("keyword", "not") and self.tokens[self.i + 1].kind == "keyword" and \
                self.tokens[self.i + 1].text in ("in", "contains"):
            self.advance()
            negate = True
        if self.at("keyword", "in"):
            self.advance()
            container = self.list_literal() if self.at("op", "[") else self.operand()
            node: Node = Member(left, container)
            return Not(node) if negate else node
        if self.at("keyword", "contains"):
            self.advance()
            node = Member(self.operand(), left)
            return Not(node) if negate else node
        if negate:
            self.fail("expected in or contains after not")
        parts: list[Node] = []
        while self.token.kind == "op" and self.token.text in COMPARISONS:
            op = self.advance().text
            right = self.operand()
            parts.append(Compare(op, left, right))
            left = right
        if not parts:
            return left
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def operand(self) -> Node:
        t = self.token
        if t.kind == "op" and t.text == "(":
            self.advance()
            self.enter()
            node = self.or_expr()
            self.depth -= 1
            self.expect("op", ")")
            return node
        if t.kind == "name":
            self.advance()
            if self.at("op", "("):
                self.fail("calls are not allowed (only comparisons of columns and literals)")
            return Column(t.text)
        if t.kind == "quoted":
            self.advance()
            return Column(t.text[1:-1])
        if t.kind == "op" and t.text == "[":
            self.fail("a list is only allowed after in")
        return self.literal()

    def literal(self) -> Literal:
        t = self.token
        if t.kind == "op" and t.text == "-":
            self.advance()
            if not self.at("number"):
                self.fail("expected a number after -")
            value = self.literal().value
            assert isinstance(value, (int, float))
            return Literal(-value)
        if t.kind == "number":
            self.advance()
            is_int = re.fullmatch(r"\d+", t.text) is not None
            return Literal(int(t.text) if is_int else float(t.text))
        if t.kind == "string":
            self.advance()
            return Literal(_unquote(t.text))
        if t.kind == "keyword" and t.text in ("true", "false"):
            self.advance()
            return Literal(t.text == "true")
        if t.kind == "keyword" and t.text in ("null", "none"):
            self.advance()
            return Literal(None)
        self.fail("expected a column name, a literal or (")

    def list_literal(self) -> ListLiteral:
        self.expect("op", "[")
        values = []
        while not self.at("op", "]"):
            if self.token.kind in ("name", "quoted"):
                self.fail("lists hold literals only, not columns")
            values.append(self.literal())
            if self.at("op", ","):
                self.advance()
            elif not self.at("op", "]"):
                self.fail("expected , or ] in the list (lists hold literals only)")
        self.advance()
        if not values:
            self.fail("an empty list matches nothing; name at least one value")
        return ListLiteral(tuple(values))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise UserError(f"filter expression nests deeper than {MAX_DEPTH} levels")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)
