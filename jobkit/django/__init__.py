"""jobkit for Django: add ``"jobkit.django"`` to ``INSTALLED_APPS``.

Settings come from ``settings.JOBKIT`` (``{"REDIS_URL": ..., "NAMESPACE": ...,
"OUTBOX_DATABASE": "default"}``); the app brings the ``jobkit_outbox`` model and its
migration, ``manage.py jobkit_worker`` and a system check of those settings.
"""
