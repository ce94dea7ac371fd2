"""A tiny synthetic data set shared by the neural tests (32 x 32, a few poses)."""

import pytest


@pytest.fixture(scope="session")
def tiny_data(body):
    from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic

    cfg = SyntheticConfig(size=32, train_sequences=1, test_sequences=1, frames_per_sequence=4,
                          unseen_views_per_camera=2, texture_size=128)
    return make_synthetic(cfg, body=body)
