"""Primary keys handed out inside one write transaction, so new rows need no flush to learn them.

Intake opens incidents and work orders for a whole batch of alerts in one transaction. Asking the
database for each new row's id (an INSERT, via an ORM flush) cost more than all the rest of the
batch's work; with ids known up front, every new row of the batch goes in with the one flush at its
end, one multi-row INSERT per table. Safe because every write transaction is exclusive where it
matters: SQLite's ``BEGIN IMMEDIATE`` holds the database's write lock from the start (so
``max(id) + 1`` cannot be taken by anyone else before we commit), and PostgreSQL hands out
sequence values that are never given twice.

Rows of the insert-only tables (feed events, work-order history) can also be queued here as plain
rows (:meth:`Ids.append`) and inserted together (:meth:`Ids.write`), without ORM objects at all.
Nothing in the transaction needs their ids, so the database numbers them as they go in: in the
order queued, and after every row already committed, because every write transaction holds a lock
from its start (SQLite's write lock; on PostgreSQL the feed's advisory lock, see
:meth:`central.db.Database.write`), as the feed's readers need.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from central.tables import Base


class Maxima:
    """One SELECT of several tables' largest ids, built once by whoever knows which tables a
    transaction adds rows to (see :class:`Ids`)."""

    def __init__(self, *tables: type[Base]) -> None:
        self.tables = tables
        self.query: Select[Any] = select(
            *(select(func.max(t.__table__.c.id)).scalar_subquery() for t in tables)  # type: ignore[attr-defined]
        )


class Ids:
    """Next ids for tables with an integer ``id`` key, for one write transaction.

    ``together``: tables the transaction will likely take ids for; on SQLite the first ``take`` of
    one of them reads all their current maxima in one query instead of one query each (each costs
    the ORM's fixed ~0.1-0.2 ms of execution, whatever the table's size).
    """

    def __init__(self, s: Session, together: Maxima | None = None) -> None:
        self._s = s
        self._postgres = s.get_bind().dialect.name == "postgresql"
        self._next: dict[str, int] = {}
        self._fetched: dict[str, int] = {}  # PostgreSQL: a sequence value fetched ahead (``also``)
        self._together = together  # None once read
        self._rows: dict[Table, list[dict[str, Any]]] = {}
        self._watched = False

    def append(self, model: type[Base], row: dict[str, Any]) -> None:
        """Queue a row (without its id) of an insert-only table: feed events, work-order history;
        :meth:`write` inserts them. A plain row costs none of the ORM's per-object work (its state,
        the flush's bookkeeping), which was a good part of intake's flush, and no id to fetch."""
        if not self._watched:  # a forgotten write() fails the commit, loudly
            event.listen(self._s, "before_commit", self._unwritten, once=True)
            self._watched = True
        self._rows.setdefault(model.__table__, []).append(row)  # type: ignore[arg-type]

    def _unwritten(self, session: Session) -> None:
        if self._rows:
            names = ", ".join(t.name for t in self._rows)
            raise RuntimeError(f"rows queued for {names} were never written: call Ids.write() before commit")

    def write(self) -> None:
        """Insert the queued rows, one executemany per table (after the flush of the rows they
        refer to: history rows name their work order)."""
        rows, self._rows = self._rows, {}
        for table, batch in rows.items():
            self._s.execute(insert(table), batch)

    def take(self, model: type[Base], also: type[Base] | None = None) -> int:
        """The next id for ``model``. ``also``: a table the caller is sure to take an id for next in
        this transaction (an incident's work order); on PostgreSQL both come in one round trip."""
        table = model.__table__
        name = table.name  # type: ignore[attr-defined]
        # (no autoflush: writing out the rows pending so far is what the ids are there to put off)
        if self._postgres:
            if name not in self._fetched:
                wanted = [name]
                other = also.__table__.name if also is not None else None  # type: ignore[attr-defined]
                if other is not None and other not in self._fetched:
                    wanted.append(other)
                self._fetch(wanted)
            return self._fetched.pop(name)
        if name not in self._next:
            maxima = self._together
            if maxima is not None and model in maxima.tables:
                self._together = None
            else:
                maxima = Maxima(model)
            with self._s.no_autoflush:  # rows pending with ids from here are counted already
                tops = self._s.execute(maxima.query).one()
            for t, top in zip(maxima.tables, tops, strict=True):
                self._next.setdefault(t.__table__.name, int(top or 0) + 1)  # type: ignore[attr-defined]
        value = self._next[name]
        self._next[name] = value + 1
        return value

    def _fetch(self, names: list[str]) -> None:
        """The next sequence value of several tables in one query."""
        cols = ", ".join(f"nextval(pg_get_serial_sequence(:t{i}, 'id'))" for i in range(len(names)))
        params = {f"t{i}": name for i, name in enumerate(names)}
        with self._s.no_autoflush:
            row = self._s.execute(text(f"SELECT {cols}"), params).one()
        for name, got in zip(names, row, strict=True):
            self._fetched[name] = int(got)
