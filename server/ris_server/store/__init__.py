"""Persistent stores behind one async repository interface."""

from ris_server.store.base import Repository, TaskOutcome

__all__ = ["Repository", "TaskOutcome"]
