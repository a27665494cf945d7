"""The garbage-collector policy: survivors are frozen, nothing alive is lost, and cycles
that die while frozen are still reclaimed once the frozen set has grown enough."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from chat_server.gcpolicy import GcPolicy


class Node:
    """A cyclic structure, like a closed connection's objects referring to each other."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture()
def policy() -> Iterator[GcPolicy]:
    p = GcPolicy(growth=0.25)
    p.install()
    try:
        yield p
    finally:
        p.uninstall()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("generation", [1, 2])
def test_survivors_of_older_collections_are_frozen(policy: GcPolicy, generation: int) -> None:
    before = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gc.collect(generation)
    assert gc.get_freeze_count() >= before + len(kept)
    assert all(n.me is n for n in kept)


def test_young_collections_still_reclaim_cycles(policy: GcPolicy) -> None:
    probe = weakref.ref(Node())
    gc.collect(0)
    assert probe() is None


def test_frozen_objects_are_still_freed_by_reference_counting(policy: GcPolicy) -> None:
    holder = {"data": [[] for _ in range(1000)]}  # lists are tracked by the collector
    gc.collect()
    frozen = gc.get_freeze_count()
    del holder
    assert gc.get_freeze_count() <= frozen - 1000


def test_frozen_cycles_are_reclaimed_once_the_frozen_set_grew(policy: GcPolicy) -> None:
    cycles = [Node() for _ in range(2000)]
    probe = weakref.ref(cycles[0])
    gc.collect()  # they survive and are frozen
    del cycles
    gc.collect()
    # A frozen cycle is not collected by the automatic collections...
    assert probe() is not None
    # ...until the live blocks have grown past the threshold (each Node is at least one
    # block): grow them and check.
    base = sys.getallocatedblocks()
    growth = [Node() for _ in range(int(base * 0.3) + 1)]
    gc.collect()
    assert policy.maybe_collect_frozen() is True
    assert probe() is None
    assert policy.full_collections == 1
    assert all(n.me is n for n in growth[:10])
    # Right after, the frozen set is the new base: no second pause.
    assert policy.maybe_collect_frozen() is False


def test_no_full_collection_below_the_threshold(policy: GcPolicy) -> None:
    gc.collect()
    assert policy.maybe_collect_frozen() is False
    assert policy.full_collections == 0


def test_the_periodic_check_does_not_walk_the_frozen_set(
    policy: GcPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc.get_freeze_count() walks every frozen object: at 10,000 sockets one call
    stopped the server's loop for ~200-300 ms, at every check (bench/README.md)."""

    def walks(*_: object) -> int:
        raise AssertionError("gc.get_freeze_count() walks the whole frozen set")

    monkeypatch.setattr(gc, "get_freeze_count", walks)
    assert policy.maybe_collect_frozen() is False
    growth = [Node() for _ in range(int(sys.getallocatedblocks() * 0.3) + 1)]
    assert policy.maybe_collect_frozen() is True  # the full collection doesn't walk it either
    assert len(growth) > 0


def test_install_nests_and_uninstall_restores_the_default() -> None:
    p = GcPolicy()
    p.install()
    p.install()
    p.uninstall()
    assert p._after_collection in gc.callbacks
    assert gc.get_freeze_count() > 0
    p.uninstall()
    assert p._after_collection not in gc.callbacks
    assert gc.get_freeze_count() == 0
