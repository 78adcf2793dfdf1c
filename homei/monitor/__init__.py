"""Monitoring: Prometheus collectors, samples, history and alerts."""
