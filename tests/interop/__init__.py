"""Sidekiq interoperability: real Sidekiq 6.4 (Ruby) reads and drives what jobkit writes."""
