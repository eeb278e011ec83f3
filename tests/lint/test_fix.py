"""`--fix` / `--diff`: the JK402 and JK101 codemods, before and after, and what is left alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobkit_lint import lint_paths
from jobkit_lint.cli import main
from jobkit_lint.declared import declared_floor
from jobkit_lint.fix import fix_paths

from .helpers import write_tree

TASKS = """\
from celery import shared_task


@shared_task
def send_receipt(order_id: int, note=None):
    pass


@shared_task
def audit(order):
    pass


@shared_task(bind=True)
def ship(self, order_id):
    pass


@shared_task(base=AuditedTask)
def archive(order_id):
    pass


@shared_task
def bill(order: int, amount):
    pass
"""
MODELS = """\
from django.db import models


class Order(models.Model):
    pass
"""


def project(tmp_path: Path, views: str, *, celery: str = "celery>=5.3") -> Path:
    """A small Django + Celery project whose `shop/views.py` is `views`."""
    return write_tree(tmp_path, {
        "pyproject.toml": f'[project]\nname = "shop"\ndependencies = ["{celery}", "django"]\n',
        "shop/__init__.py": "",
        "shop/tasks.py": TASKS,
        "shop/models.py": MODELS,
        "shop/views.py": views,
    })


def fixed(root: Path) -> str:
    """Fix the project in place and return the new views module."""
    fix_paths([root], write=True)
    return (root / "shop" / "views.py").read_text(encoding="utf-8")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_enqueue_in_atomic_block_is_deferred_with_partial_and_the_import_is_added(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, dedent("""
        from django.db import transaction
        from shop.tasks import send_receipt


        def checkout(order):
            with transaction.atomic():
                order.save()
                send_receipt.delay(order.id, note="paid")
    """))
    assert fixed(root) == dedent("""
        from django.db import transaction
        from shop.tasks import send_receipt
        from functools import partial


        def checkout(order):
            with transaction.atomic():
                order.save()
                transaction.on_commit(partial(send_receipt.delay, order.id, note="paid"))
    """)


def test_a_multi_line_enqueue_keeps_its_line_breaks_and_comments(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from functools import partial

        from django.db import transaction
        from shop.tasks import send_receipt


        def checkout(order):
            with transaction.atomic():
                send_receipt.apply_async(
                    args=[order.id],
                    countdown=10,  # after the mail server's rate window
                )
    """))
    assert fixed(root) == dedent("""
        from functools import partial

        from django.db import transaction
        from shop.tasks import send_receipt


        def checkout(order):
            with transaction.atomic():
                transaction.on_commit(partial(send_receipt.apply_async,
                    args=[order.id],
                    countdown=10,  # after the mail server's rate window
                ))
    """)


def test_an_existing_partial_import_is_reused_and_the_database_alias_is_kept(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, dedent("""
        from functools import partial

        from django.db import transaction
        from shop.tasks import send_receipt


        @transaction.atomic(using="orders")
        def checkout(order):
            send_receipt.apply_async(args=[order.id], countdown=5)
    """))
    assert fixed(root) == dedent("""
        from functools import partial

        from django.db import transaction
        from shop.tasks import send_receipt


        @transaction.atomic(using="orders")
        def checkout(order):
            transaction.on_commit(partial(send_receipt.apply_async, args=[order.id], countdown=5), using="orders")
    """)  # noqa: E501


def test_celery_5_4_declared_uses_delay_on_commit_for_default_task_classes(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, dedent("""
        from django.db import transaction
        from shop.tasks import archive, send_receipt


        def checkout(order):
            with transaction.atomic():
                send_receipt.delay(order.id)
                send_receipt.apply_async(args=[order.id])
                archive.delay(order.id)
    """), celery="celery[redis]>=5.4,<6")
    assert fixed(root) == dedent("""
        from django.db import transaction
        from shop.tasks import archive, send_receipt
        from functools import partial


        def checkout(order):
            with transaction.atomic():
                send_receipt.delay_on_commit(order.id)
                send_receipt.apply_async_on_commit(args=[order.id])
                transaction.on_commit(partial(archive.delay, order.id))
    """)


def test_a_custom_task_class_anywhere_disables_delay_on_commit(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from django.db import transaction
        from shop.tasks import send_receipt


        def checkout(order):
            with transaction.atomic():
                send_receipt.delay(order.id)
    """), celery="celery==5.5.2")
    (root / "shop" / "celery.py").write_text(
        'from celery import Celery\napp = Celery("shop", task_cls="shop.base:Task")\n'
    )
    assert "transaction.on_commit(partial(send_receipt.delay, order.id))" in fixed(root)


def test_model_argument_becomes_pk_where_the_parameter_is_an_id(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from shop.models import Order
        from shop.tasks import bill, send_receipt, ship


        def resend(order_id):
            order = Order.objects.get(id=order_id)
            send_receipt.delay(order)
            ship.delay(order_id=order)


        def nightly():
            for order in Order.objects.filter(paid=True).select_related("customer"):
                send_receipt.apply_async(kwargs={"order_id": order}, countdown=60)


        def from_view(order: Order):
            ship.delay(order)
            bill.delay(order, 10)
    """))
    assert fixed(root) == dedent("""
        from shop.models import Order
        from shop.tasks import bill, send_receipt, ship


        def resend(order_id):
            order = Order.objects.get(id=order_id)
            send_receipt.delay(order.pk)
            ship.delay(order_id=order.pk)


        def nightly():
            for order in Order.objects.filter(paid=True).select_related("customer"):
                send_receipt.apply_async(kwargs={"order_id": order.pk}, countdown=60)


        def from_view(order: Order):
            ship.delay(order.pk)
            bill.delay(order.pk, 10)
    """)


def test_what_is_not_provably_equivalent_is_left_with_a_reason(tmp_path: Path) -> None:
    views = dedent("""
        from django.db import transaction
        from shop.models import Order
        from shop.tasks import audit, send_receipt
        from shop.remote import notify


        def checkout(session, order_id):
            order = Order.objects.get(id=order_id)
            pending = Order.objects.filter(paid=False)
            first = Order.objects.filter(paid=False).first()
            audit.delay(order)
            send_receipt.delay(pending)
            send_receipt.delay(first)
            notify.delay(order)
            with transaction.atomic():
                result = send_receipt.delay(order_id)
            with session.begin():
                send_receipt.delay(order_id)
            with transaction.atomic():
                send_receipt.delay(order_id)  # noqa: JK402
    """)
    root = project(tmp_path, views)
    report = fix_paths([root], write=True)
    assert report.fixed == []
    assert (root / "shop" / "views.py").read_text(encoding="utf-8") == views
    reasons = {(f.line, f.code): why for f, why in report.left}
    assert reasons[(11, "JK101")] == (
        "the job's parameter `order` is neither named *_id nor annotated int"
    )
    assert reasons[(12, "JK101")] == "not known to be one saved Django model instance"
    assert reasons[(13, "JK101")] == "not known to be one saved Django model instance"
    assert reasons[(14, "JK101")] == "the job's signature is not in the linted tree"
    assert reasons[(16, "JK402")] == "the enqueue is not a statement of its own"
    assert reasons[(18, "JK402")] == "not a Django transaction.atomic() block"
    assert (20, "JK402") not in reasons  # suppressed: not a finding, so not touched


def test_a_taken_transaction_name_leaves_the_enqueue(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from django.db.transaction import atomic
        from shop.tasks import send_receipt

        transaction = "not django's"


        def checkout(order):
            with atomic():
                send_receipt.delay(order.id)
    """))
    report = fix_paths([root], write=False)
    assert [why for _f, why in report.left] == [
        "the name `transaction` is bound to something else here"
    ]


def test_the_transaction_import_is_added_when_only_atomic_was_imported(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from django.db.transaction import atomic
        from shop.tasks import send_receipt


        @atomic
        def checkout(order):
            send_receipt.delay(order.id)
    """))
    text = fixed(root)
    assert "from django.db import transaction" in text
    assert "    transaction.on_commit(partial(send_receipt.delay, order.id))\n" in text


def test_fixing_twice_is_fixing_once_and_the_result_lints_clean(tmp_path: Path) -> None:
    root = project(tmp_path, dedent("""
        from django.db import transaction
        from shop.models import Order
        from shop.tasks import send_receipt


        def checkout(order_id):
            order = Order.objects.get(id=order_id)
            with transaction.atomic():
                order.save()
                send_receipt.delay(order)
    """))
    before = lint_paths([root], use_cache=False).findings
    assert sorted(f.code for f in before) == ["JK101", "JK402"]
    once = fixed(root)
    second = fix_paths([root], write=True)
    assert second.fixed == [] and second.changes == {}
    assert (root / "shop" / "views.py").read_text(encoding="utf-8") == once
    after = lint_paths([root], use_cache=False).findings
    assert [f for f in after if f.code in {"JK101", "JK402"}] == []


def test_diff_prints_a_unified_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    views = dedent("""
        from django.db import transaction
        from shop.tasks import send_receipt


        def checkout(order):
            with transaction.atomic():
                send_receipt.delay(order.id)
    """)
    root = project(tmp_path, views)
    assert main(["--diff", str(root)]) == 1
    out, err = capsys.readouterr()
    assert (root / "shop" / "views.py").read_text(encoding="utf-8") == views
    assert out.startswith("--- a/") and "\n+++ b/" in out
    assert "-        send_receipt.delay(order.id)\n" in out
    assert "+        transaction.on_commit(partial(send_receipt.delay, order.id))\n" in out
    assert "+from functools import partial\n" in out
    assert "would fix " in err and "Would fix 1 finding(s) in 1 file(s); 0 left." in err


def test_fix_writes_reports_what_it_did_and_lints_what_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, dedent("""
        from django.db import transaction
        from shop.tasks import audit, send_receipt


        def checkout(order):
            with transaction.atomic():
                send_receipt.delay(order.id)
            audit.delay({1, 2})
    """))
    assert main(["--fix", "--no-cache", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "JK402" not in out and "JK102" in out
    assert "fixed " in err and "JK402 send_receipt.delay(...) -> transaction.on_commit(" in err
    assert "Fixed 1 finding(s) in 1 file(s); 1 left." in err
    assert main(["--diff", str(root)]) == 0


@pytest.mark.parametrize(("files", "floor"), [
    ({"requirements.txt": "django>=4.2\ncelery[redis]==5.4.0  # pinned\n"}, (5, 4, 0)),
    ({"requirements/base.txt": "Celery>=5.4\n", "requirements/old.txt": "celery>=5.2\n"}, (5, 2)),
    ({"pyproject.toml": '[tool.poetry.dependencies]\ncelery = {version = "^5.5"}\n'}, (5, 5)),
    ({"pyproject.toml": '[project]\ndependencies = ["celery<6"]\n'}, None),
    ({"pyproject.toml": '[project]\ndependencies = ["celery"]\n'}, None),
    ({"requirements.txt": "kombu>=5.4\n"}, None),
])
def test_the_declared_celery_floor_is_the_weakest_lower_bound(
    tmp_path: Path, files: dict[str, str], floor: tuple[int, ...] | None
) -> None:
    write_tree(tmp_path, files)
    assert declared_floor(tmp_path, "celery") == floor
