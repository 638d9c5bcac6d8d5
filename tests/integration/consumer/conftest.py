"""Helpers for running `chargeback consume` as a real process: moved to tests/support/consumer_process.py (the names
stay importable from here for this session)."""

from __future__ import annotations

from tests.support.consumer_process import REPO, consumer_env, start_consumer

__all__ = ["REPO", "consumer_env", "start_consumer"]
