"""scripts/loadtest.py: the pieces that do not need a server."""

from __future__ import annotations

import os

import pytest

import loadtest


def test_rss_reads_the_current_and_peak_resident_size_of_a_process() -> None:
    mem = loadtest.rss_kib(os.getpid())
    assert mem["VmRSS"] > 0 and mem["VmHWM"] >= mem["VmRSS"]


def test_percentiles_are_ordered_and_empty_is_none() -> None:
    p = loadtest.percentiles([float(i) for i in range(1, 101)])
    assert p["p50"] is not None and p["p95"] is not None and p["p99"] is not None
    assert p["p50"] <= p["p95"] <= p["p99"] <= 100.0
    assert loadtest.percentiles([])["p99"] is None


def test_only_loopback_servers_are_loaded() -> None:
    with pytest.raises(SystemExit):
        loadtest.main(["--base-url", "http://example.com"])
