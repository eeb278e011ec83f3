"""The outbox table as a Django model, so its migration comes with the app."""

from __future__ import annotations

from django.db import models


class OutboxRow(models.Model):  # type: ignore[misc]
    """One job written with ``set(outbox=True)``, waiting for the relay."""

    id = models.BigAutoField(primary_key=True)
    jid = models.CharField(max_length=64)
    queue = models.CharField(max_length=255)
    payload = models.TextField()
    run_at = models.FloatField(null=True)
    unique_ttl_ms = models.BigIntegerField(null=True)
    created_at = models.FloatField()

    class Meta:
        db_table = "jobkit_outbox"
        verbose_name = "outbox row"
