"""Contract tests: the same behaviour tests run against an in-memory fake (tests/fakes.py,
tests/import_fakes.py) and the DynamoDB adapter it stands in for (casework.adapters, on moto), so a unit test
that passes on a fake says something about the code that runs in Lambda.

Each module shares one moto account (the template's table, bucket and queues, seeded as the local stack is);
``table`` restores the seeded table before each test that uses it. A fake's tests never start moto.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from infra.local import moto_patches
from infra.local.template import LocalResources
from tests.functional.moto_account import REGION, moto_account

moto_patches.install()  # as the local stack does: a transaction costs what it touches, not the table size

# The two implementations of every port under contract: the fake the unit tests use, the adapter Lambda runs.
IMPLEMENTATIONS = ["fake", "dynamo"]
T = TypeVar("T")


def implementation(request: pytest.FixtureRequest, fake: Callable[[], T], adapter: Callable[[], T]) -> T:
    """The fake or the adapter, as the parametrised fixture's param says; the adapter on the fresh table."""
    if request.param == "fake":
        return fake()
    request.getfixturevalue("table")
    return adapter()


def _tables() -> dict[str, Any]:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables


@pytest.fixture(scope="module")
def aws_account() -> Iterator[tuple[LocalResources, Any]]:
    """One seeded moto account per module, and a snapshot of the seeded table."""
    from infra.seed import seed

    with pytest.MonkeyPatch.context() as mp, moto_account(mp, stage="contract") as res:
        seed()
        yield res, copy.deepcopy(_tables()[res.table_name])


@pytest.fixture
def table(aws_account: tuple[LocalResources, Any]) -> LocalResources:
    """The freshly seeded table (restoring moto's table object takes milliseconds; building it ~0.3 s)."""
    res, seeded = aws_account
    _tables()[res.table_name] = copy.deepcopy(seeded)
    return res
