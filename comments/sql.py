"""The two statements of every submission, compiled by the ORM once per thread instead of per request.

Building a query costs the ORM more than running it: reading a thread by its key cost 0.4 ms of CPU
through a queryset against 0.1 ms of SQL, inserting a comment 0.6 ms through ``objects.create``
(bench/submit_profile.py). Both statements are the ORM's own SQL, compiled for the connection's
vendor with sentinel values, checked to carry exactly those values as parameters, then kept and
executed with new ones; the rows come back through the ORM's own converters and ``from_db``.
Nothing here changes what the database receives, only how often Python builds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import sql

from comments.models import Comment, Thread

# Per thread (a connection is, in Django): alias -> compiled statement.
_compiled = threading.local()

_SITE_SENTINEL = -987_654_321
_KEY_SENTINEL = "\x00moderato-thread-key\x00"


class _ThreadSelect:
    def __init__(self, alias: str) -> None:
        compiler = Thread.objects.filter(site_id=_SITE_SENTINEL, key=_KEY_SENTINEL).query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        # The order of the WHERE clause is the ORM's to choose: map each parameter by its sentinel.
        order = {_SITE_SENTINEL: "site_id", _KEY_SENTINEL: "key"}
        if len(params) != 2 or {*params} != {*order}:
            raise RuntimeError(f"unexpected parameters for the thread lookup: {params!r}")
        self.names = [order[value] for value in params]
        columns = [expression for expression, _, _ in compiler.select]
        self.attnames = [column.target.attname for column in columns]
        self.compiler = compiler
        self.converters = compiler.get_converters(columns)

    def fetch(self, alias: str, *, site_id: int, key: str) -> Thread | None:
        values: dict[str, Any] = {"site_id": site_id, "key": key}
        with connections[alias].cursor() as cursor:
            cursor.execute(self.sql, [values[name] for name in self.names])
            rows: Any = cursor.fetchall()
        if not rows:
            return None
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        return Thread.from_db(alias, self.attnames, tuple(next(iter(rows))))


class _CommentInsert:
    def __init__(self, alias: str) -> None:
        connection = connections[alias]
        opts = Comment._meta
        # As Model._save_table: every local concrete column but the automatic id and generated columns.
        self.fields = [
            field for field in opts.local_concrete_fields if field is not opts.auto_field and not field.generated
        ]
        template = Comment(thread_id=_SITE_SENTINEL, author_name="", body="")
        query = sql.InsertQuery(Comment)
        query.insert_values(self.fields, [template])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = list(opts.db_returning_fields)
        statements = compiler.as_sql()
        if len(statements) != 1 or not connection.features.can_return_columns_from_insert:
            raise RuntimeError("this database cannot return the new comment's id from its INSERT")
        if [field.attname for field in opts.db_returning_fields] != ["id"]:
            raise RuntimeError("the comment INSERT returns more than its id: its values would need converters")
        self.sql, params = statements[0]
        # One parameter per field, in field order (a field written as an SQL expression would break both).
        thread_at = [field.attname for field in self.fields].index("thread_id")
        if len(params) != len(self.fields) or params[thread_at] != _SITE_SENTINEL:
            raise RuntimeError("the compiled comment INSERT does not take one parameter per field")
        self.returning = compiler.returning_fields

    def _params(self, comment: Comment, alias: str) -> list[Any]:
        connection = connections[alias]
        return [field.get_db_prep_save(field.pre_save(comment, True), connection) for field in self.fields]

    def insert(self, comment: Comment, alias: str) -> None:
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self._params(comment, alias))
            # The RETURNING row (what Django's fetch_returned_insert_columns reads on SQLite and PostgreSQL).
            row = cursor.fetchone()
        for field, value in zip(self.returning, row, strict=True):
            setattr(comment, field.attname, value)
        comment._state.adding = False
        comment._state.db = alias


def _statement(kind: str, alias: str, build: Callable[[str], Any]) -> Any:
    cache: dict[tuple[str, str], Any] | None = getattr(_compiled, "statements", None)
    if cache is None:
        cache = _compiled.statements = {}
    statement = cache.get((kind, alias))
    if statement is None:
        statement = cache[(kind, alias)] = build(alias)
    return statement


def thread_by_key(*, site_id: int, key: str, alias: str = "default") -> Thread | None:
    """The site's thread of this (canonical) key, or None: one SELECT, compiled once."""
    statement: _ThreadSelect = _statement("thread", alias, _ThreadSelect)
    return statement.fetch(alias, site_id=site_id, key=key)


def comment_insert(comment: Comment, *, alias: str = "default") -> Comment:
    """INSERT a new, unsaved comment (its defaults as ``Comment()`` set them) and give it its id:
    what ``Comment.objects.create`` sends, compiled once. No ``pre_save``/``post_save`` signals are
    sent (nothing listens to them for comments; ``tests/comments/test_sql.py`` checks that stays so)."""
    if comment.pk is not None:
        raise ValueError("comment_insert creates a comment; this one has an id already")
    statement: _CommentInsert = _statement("comment", alias, _CommentInsert)
    statement.insert(comment, alias)
    return comment
