"""Job queue fixtures. The queue rigs are in tests/support/jobs.py; `redis_url` (a real
`redis-server`) is in tests/conftest.py, shared with the generation tests."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
