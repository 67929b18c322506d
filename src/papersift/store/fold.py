"""`names.fold` in SQL: a text column lower-cased with its accents removed, so a search for
'scholkopf' or 'émile' finds 'Schölkopf' and 'Émile' on either database (SQLite's lower()
folds ASCII only; neither database drops accents by itself)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement, func

from papersift.names import fold

SQLITE_FUNCTION = "papersift_fold"
# PostgreSQL: every Latin, Greek and Cyrillic letter that `fold` turns into one other
# character, mapped by translate() before lower() (which, under a C collation, folds ASCII
# only); Latin Extended Additional holds Vietnamese letters ('Nguyễn'), Greek Extended
# polytonic ones ('Ἀλέξανδρος')
_BLOCKS = (range(0xC0, 0x250), range(0x370, 0x530), range(0x1E00, 0x2000))
_LETTERS = [c for block in _BLOCKS for c in map(chr, block)
            if len(fold(c)) == 1 and fold(c) != c]
_FROM, _TO = "".join(_LETTERS), "".join(fold(c) for c in _LETTERS)


class folded(FunctionElement):
    """`folded(column)`: the column as `names.fold` would write it."""

    type = String()
    inherit_cache = True


@compiles(folded, "sqlite")
def _sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return compiler.process(getattr(func, SQLITE_FUNCTION)(*element.clauses), **kw)


@compiles(folded, "postgresql")
def _postgresql(element: folded, compiler: Any, **kw: Any) -> str:
    return compiler.process(func.lower(func.translate(*element.clauses, _FROM, _TO)), **kw)


def register(dbapi_conn: Any) -> None:
    """Give a new SQLite connection the function `folded` compiles to there."""
    dbapi_conn.create_function(SQLITE_FUNCTION, 1,
                               lambda s: fold(s) if isinstance(s, str) else s,
                               deterministic=True)
