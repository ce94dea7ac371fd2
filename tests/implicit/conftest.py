"""A tiny implicit data set shared by the tests (a few poses, few points)."""

import pytest


@pytest.fixture(scope="session")
def tiny_implicit(body, tmp_path_factory):
    from avatarforge.implicit.data import SynthConfig, make_data, save_data

    data = make_data(SynthConfig(n_train=2, n_within=1, n_ood=1, train_points=3000, eval_points=500, seed=1))
    folder = tmp_path_factory.mktemp("implicit_data")
    save_data(folder, data)
    return data, folder
