"""The services tests' private Docker engine and Homei, for the reload and rotation tests."""

from tests.component.services.conftest import engine, homei

__all__ = ["engine", "homei"]
