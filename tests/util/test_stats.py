import numpy as np

from avatarforge.util.stats import robust_std


def test_robust_std_is_the_scaled_median_absolute_deviation():
    # median 3, absolute deviations (2, 1, 0, 1, 97): MAD 1 whatever the outlier's size
    assert robust_std(np.array([1.0, 2, 3, 4, 100])) == 1.4826
    assert robust_std(np.array([1.0, 2, 3, 4, 1e9])) == 1.4826
    assert robust_std(np.array([])) == 0.0


def test_robust_std_matches_the_standard_deviation_of_normal_data():
    x = np.random.default_rng(0).normal(5.0, 2.0, 200_000)
    assert abs(robust_std(x) - 2.0) < 0.02
