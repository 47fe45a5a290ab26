"""The training tables, written once per test module."""

from __future__ import annotations

import pytest
from train_tables import write_tables


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    return write_tables(tmp_path_factory.mktemp("train"))
