"""Small seeded datasets shared by the data tests (tiny camera, few episodes)."""

from __future__ import annotations

import pytest

from _demos import quiet, tiny_spec
from navlnn.rollout.collect import collect


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """A 4-episode dataset (noise and wide starts mixed) and its manifest."""
    folder = tmp_path_factory.mktemp("demos") / "data"
    manifest = collect(tiny_spec(), folder, 4, workers=1, progress=False, log=quiet)
    return folder, manifest
