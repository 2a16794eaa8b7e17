"""Status list slots, reserved in blocks from the database and handed out from memory.

A block is reserved by one UPDATE ... RETURNING on the list's allocation counter, in its own short
transaction: atomic on PostgreSQL (the row lock orders concurrent reservations) and on SQLite (one
writer at a time), and never held open while a credential is signed. Positions of a block that a
process does not use before it exits simply stay unused.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from ec_issuer.core.ports import Clock
from ec_issuer.status.lists import StatusListKind, StatusListUrls, StatusSlot
from ec_issuer.status.permutation import KEY_BYTES, shuffled_index
from ec_issuer.storage.failures import transaction
from ec_issuer.storage.tables import status_lists

DEFAULT_BLOCK_SIZE = 64  # a reservation is a transaction of its own: one per 64 credentials per list kind
_OPEN_ATTEMPTS = 5

_t = status_lists
_current_list = (
    select(_t.c.id)
    .where(
        _t.c.issuer_slug == bindparam("list_issuer"),
        _t.c.kind == bindparam("list_kind"),
        _t.c.next_position < _t.c.size,
    )
    .order_by(_t.c.number.desc())
    .limit(1)
    .scalar_subquery()
)
# One statement: PostgreSQL re-checks `next_position < size` on the locked row, so a list that filled
# while this reservation waited is not over-allocated.
_RESERVE = (
    update(_t)
    .where(_t.c.id == _current_list, _t.c.next_position < _t.c.size)
    .values(next_position=_t.c.next_position + bindparam("block_size"))
    .returning(_t.c.id, _t.c.size, _t.c.next_position, _t.c.permutation_key)
)


@dataclass(slots=True)
class _Block:
    list_id: str
    size: int
    key: bytes
    next: int
    end: int
    pid: int


class SqlStatusSlotAllocator:
    def __init__(
        self,
        engine: Engine,
        urls: StatusListUrls,
        clock: Clock,
        *,
        list_size: int,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        self._engine = engine
        self._urls = urls
        self._clock = clock
        self._list_size = list_size
        self._block_size = block_size
        self._blocks: dict[tuple[str, StatusListKind], _Block] = {}
        self._lock = threading.Lock()

    def allocate(self, issuer_slug: str, kind: StatusListKind) -> StatusSlot:
        with self._lock:
            block = self._blocks.get((issuer_slug, kind))
            # A block reserved before a fork belongs to the parent: the child must not hand it out again.
            if block is None or block.next >= block.end or block.pid != os.getpid():
                block = self._reserve(issuer_slug, kind)
                self._blocks[(issuer_slug, kind)] = block
            position = block.next
            block.next += 1
        index = shuffled_index(block.key, block.size, position)
        return StatusSlot(block.list_id, kind, index, self._urls.url(block.list_id))

    def _reserve(self, issuer_slug: str, kind: StatusListKind) -> _Block:
        for _ in range(_OPEN_ATTEMPTS):
            with transaction(self._engine) as connection:
                row = connection.execute(
                    _RESERVE, {"list_issuer": issuer_slug, "list_kind": kind.value, "block_size": self._block_size}
                ).first()
            if row is not None:
                end = min(row.next_position, row.size)
                start = row.next_position - self._block_size
                return _Block(row.id, row.size, bytes(row.permutation_key), start, end, os.getpid())
            self._open_list(issuer_slug, kind)
        raise RuntimeError(f"could not open a {kind.value} status list for issuer {issuer_slug!r}")

    def _open_list(self, issuer_slug: str, kind: StatusListKind) -> None:
        """Open the issuer's next list of this kind, unless another allocator just did.

        Opening only when the highest list is full keeps lists from being opened early and left nearly
        empty (a small list tells a verifier more about who holds a credential). Two allocators that both
        find it full pick the same number, and the unique constraint lets one of them open it.
        """
        try:
            with transaction(self._engine) as connection:
                highest = connection.execute(
                    select(_t.c.number, _t.c.next_position, _t.c.size)
                    .where(_t.c.issuer_slug == issuer_slug, _t.c.kind == kind.value)
                    .order_by(_t.c.number.desc())
                    .limit(1)
                ).first()
                if highest is not None and highest.next_position < highest.size:
                    return  # opened by someone else since our reservation found no room: use it
                number = (highest.number if highest is not None else 0) + 1
                connection.execute(
                    _t.insert().values(
                        id=StatusListUrls.list_id(issuer_slug, kind, number),
                        issuer_slug=issuer_slug,
                        kind=kind.value,
                        number=number,
                        size=self._list_size,
                        next_position=0,
                        permutation_key=secrets.token_bytes(KEY_BYTES),
                        revision=0,
                        created_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            pass
