"""Homei: the appliance daemon of an edge device."""

__version__ = "0.1.0"
