"""Backups and restore: consistent, compressed, optionally encrypted, restored all-or-nothing."""
