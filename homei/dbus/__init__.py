"""Typed proxies for the D-Bus services Homei drives: RAUC, systemd, logind."""
