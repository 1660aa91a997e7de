"""tokentrail.reports.rollupstats: reading percentiles out of histograms (the figures against every call read are
in test_rollup.py)."""

from __future__ import annotations

import math
import random

import pytest

from tokentrail.reports import rollupstats
from tokentrail.reports.rollupsql import BUCKET_RATIO


def test_percentile_reads_buckets_as_percentile_cont() -> None:
    assert rollupstats.percentile({}, 0.5) is None
    assert rollupstats.percentile({10: 1}, 0.95) == pytest.approx(rollupstats.bucket_value(10))
    two = rollupstats.percentile({10: 1, 20: 1}, 0.5)
    assert two == pytest.approx((rollupstats.bucket_value(10) + rollupstats.bucket_value(20)) / 2)
    assert rollupstats.bucket_value(0) == 0.5


def test_the_error_stays_within_the_stated_bound() -> None:
    rng = random.Random(1)
    values = sorted(rng.lognormvariate(6, 1.5) + 1 for _ in range(999))
    hist: dict[int, int] = {}
    for v in values:
        b = 0 if v < 1 else math.floor(math.log(v) / math.log(BUCKET_RATIO)) + 1
        hist[b] = hist.get(b, 0) + 1
    for q in (0.01, 0.5, 0.95, 0.99):
        rank = q * (len(values) - 1)
        lo = int(rank)
        exact = values[lo] + (rank - lo) * (values[min(lo + 1, len(values) - 1)] - values[lo])
        got = rollupstats.percentile(hist, q)
        assert got is not None
        assert abs(got - exact) <= rollupstats.MAX_RELATIVE_ERROR * exact + 1e-9
    assert pytest.approx(0.0488, abs=1e-4) == rollupstats.MAX_RELATIVE_ERROR
