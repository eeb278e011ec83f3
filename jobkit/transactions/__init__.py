"""Enqueue after commit: the SQLAlchemy and Django halves (each imports its library)."""
