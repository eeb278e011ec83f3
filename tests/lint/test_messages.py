"""What a CI user reads: one finding per e-mail send, and the JK402 fix for the ORM in use."""

from __future__ import annotations

import textwrap

import pytest

from jobkit_lint import lint_source


def messages(source: str, code: str) -> list[str]:
    return [f.message for f in lint_source(textwrap.dedent(source)) if f.code == code]


def test_each_smtplib_send_is_one_finding_and_connecting_is_none() -> None:
    found = lint_source(textwrap.dedent("""\
        import smtplib
        from smtplib import SMTP_SSL

        def signup(request):
            server = smtplib.SMTP("localhost")
            server.login("user", "secret")
            server.sendmail("a@example.com", ["b@example.com"], "hi")

        def invite(request):
            with SMTP_SSL("localhost") as s:
                s.send_message(request.message)

        def remind(request):
            smtplib.SMTP("localhost").sendmail("a", ["b"], "hi")
    """))
    assert [(f.code, f.line) for f in found] == [("JK501", 7), ("JK501", 11), ("JK501", 14)]


DJANGO = """\
    from django.db import transaction
    from shop.tasks import send_receipt

    @transaction.atomic
    def checkout(order):
        send_receipt.delay(order.id)
"""
DJANGO_WRAPPER = """\
    from django.conf import settings
    from shop.db import atomic
    from shop.tasks import send_receipt

    def checkout(order):
        with atomic(settings.DATABASE):
            send_receipt.delay(order.id)
"""
SQLALCHEMY = """\
    from shop.jobs import ReceiptJob

    def checkout(session, order):
        with session.begin():
            session.add(order)
            ReceiptJob.perform_async(order.id)
"""
SQLALCHEMY_IMPORTED = """\
    from sqlalchemy.orm import Session
    from shop.jobs import ReceiptJob
    from shop.db import atomic

    def checkout(session: Session, order):
        with atomic(session):
            ReceiptJob.perform_async(order.id)
"""
PEEWEE = """\
    import peewee
    from shop.jobs import ReceiptJob

    db = peewee.SqliteDatabase("shop.db")

    def checkout(order):
        with db.atomic():
            ReceiptJob.perform_async(order.id)
"""


@pytest.mark.parametrize(
    ("source", "fix"),
    [(DJANGO, "enqueue from transaction.on_commit(...)"),
     (DJANGO_WRAPPER, "enqueue from transaction.on_commit(...)"),
     (SQLALCHEMY, "enqueue after the `session.begin()` block, once it has committed"),
     (SQLALCHEMY_IMPORTED, "enqueue after the `session.begin()` block, once it has committed"),
     (PEEWEE, "enqueue after the transaction commits")],
    ids=["django", "django-module", "sqlalchemy-begin", "sqlalchemy-import", "other"],
)
def test_jk402_names_the_fix_for_the_orm_in_use(source: str, fix: str) -> None:
    (message,) = messages(source, "JK402")
    assert message.endswith("can run before the commit; " + fix)
