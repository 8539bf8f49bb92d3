"""Shared test settings: one torch thread per pytest worker (the suite runs with xdist -n 2), and
the longer timeout of the end-to-end tier (``pytest.ini_options.timeout`` is the default)."""

import pytest
import torch

E2E_TIMEOUT_S = 1200

torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_S))
