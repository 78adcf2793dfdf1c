"""Reverse-proxy routes for services with a domain, kept in Caddy through its admin API."""
