"""Reliability scenarios: killed workers, a restarted Redis, garbage payloads, SIGTERM.

``pytest tests/chaos`` runs them at CI size; ``python -m tests.chaos`` runs them bigger."""
