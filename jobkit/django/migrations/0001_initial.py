"""Creates jobkit_outbox (and on PostgreSQL the NOTIFY trigger that wakes the relay)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from jobkit.outbox import schema


def _add_notify(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in schema.NOTIFY_TRIGGER:
            schema_editor.execute(sql)


def _drop_notify(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {schema.TABLE}_notify() CASCADE")


class Migration(migrations.Migration):  # type: ignore[misc]
    initial = True
    dependencies: list[Any] = []
    operations = [
        migrations.CreateModel(
            name="OutboxRow",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("jid", models.CharField(max_length=64)),
                ("queue", models.CharField(max_length=255)),
                ("payload", models.TextField()),
                ("run_at", models.FloatField(null=True)),
                ("unique_ttl_ms", models.BigIntegerField(null=True)),
                ("created_at", models.FloatField()),
            ],
            options={"db_table": "jobkit_outbox", "verbose_name": "outbox row"},
        ),
        migrations.RunPython(_add_notify, _drop_notify),
    ]
