"""The flush after a transactional test is run again when PostgreSQL makes it a deadlock's victim
(the session's worker writes while the tables are truncated); any other error is raised at once."""

from __future__ import annotations

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import OperationalError
from django.test import TransactionTestCase

from tests.conftest import flush_retried_on_deadlock, is_deadlock


def flush_error(cause: Exception) -> CommandError:
    """The chain Django's ``flush`` raises: CommandError from OperationalError from the driver's error."""
    try:
        try:
            raise cause
        except psycopg.Error as driver_error:
            raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as wrapped:
        try:
            raise CommandError("Database couldn't be flushed.") from wrapped
        except CommandError as error:
            return error


class Teardown:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, test_case: object) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_a_deadlock_deep_in_the_chain_is_recognised_and_other_errors_are_not():
    assert is_deadlock(flush_error(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not is_deadlock(flush_error(psycopg.errors.LockNotAvailable("lock not available")))
    assert not is_deadlock(ValueError("no database here"))


def test_a_flush_that_lost_a_deadlock_is_run_again():
    teardown = Teardown(flush_error(psycopg.errors.DeadlockDetected("deadlock detected")))
    flush_retried_on_deadlock(teardown)(object())
    assert teardown.calls == 2


def test_any_other_flush_error_is_raised_at_once():
    teardown = Teardown(flush_error(psycopg.errors.UndefinedTable("relation does not exist")))
    with pytest.raises(CommandError):
        flush_retried_on_deadlock(teardown)(object())
    assert teardown.calls == 1


def test_it_gives_up_after_five_deadlocks():
    teardown = Teardown(*[flush_error(psycopg.errors.DeadlockDetected("deadlock detected")) for _ in range(5)])
    with pytest.raises(CommandError):
        flush_retried_on_deadlock(teardown)(object())
    assert teardown.calls == 5


def test_the_transactional_tests_flush_is_the_retried_one():
    assert hasattr(TransactionTestCase._fixture_teardown, "__wrapped__")
