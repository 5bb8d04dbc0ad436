"""Driver errors that mean "the database cannot serve us now" become StoreUnavailable (503)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from crm_store.database import is_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "sqlstate",
    ["53300", "57P03", "57P01", "08006"],  # too many clients, starting up, shut down, lost link
)
def test_a_busy_or_restarting_server_is_unavailable(sqlstate: str) -> None:
    assert is_unavailable(DBAPIError("SELECT 1", {}, DriverError(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["23505", "22001", "42P01"])
def test_bad_data_or_bad_sql_is_not(sqlstate: str) -> None:
    assert not is_unavailable(DBAPIError("SELECT 1", {}, DriverError(sqlstate)))
