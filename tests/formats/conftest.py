from __future__ import annotations

import pytest

from leakguard.models import ScanResult
from tests.formats import results


@pytest.fixture
def leaky_result() -> ScanResult:
    return results.leaky_result()


@pytest.fixture
def empty_result() -> ScanResult:
    return results.empty_result()
