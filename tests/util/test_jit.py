import warnings

from avatarforge.util.jit import njit_cached


def test_uncacheable_function_falls_back_to_plain_jit():
    namespace: dict = {}
    exec(compile("def add(a, b):\n    return a + b\n", "<generated>", "exec"), namespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add = njit_cached(namespace["add"])
    assert any("NUMBA_CACHE_DIR" in str(w.message) for w in caught)
    assert add(2, 3) == 5
