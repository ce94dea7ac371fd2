import json
import os
import subprocess
import sys
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


def _raster_in_new_process(env) -> dict:
    code = (
        "import json, numpy as np\n"
        "from avatarforge.render.raster import _raster_kernel, rasterize\n"
        "screen = np.array([[1.0, 1.0, 2.0], [7.0, 1.0, 2.0], [1.0, 7.0, 2.0]])\n"
        "r = rasterize(screen, np.array([[0, 1, 2]]), 8, 8)\n"
        "import numba\n"
        "s = _raster_kernel.stats\n"
        "print(json.dumps({'hits': sum(s.cache_hits.values()), 'misses': sum(s.cache_misses.values()),\n"
        "                  'covered': int((np.asarray(r.triangle_id) >= 0).sum()),\n"
        "                  'dir': numba.config.CACHE_DIR}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_kernels_compile_once_into_the_avatarforge_cache(tmp_path):
    # Without NUMBA_CACHE_DIR the kernels go under the avatarforge cache directory (which
    # works for a read-only site-packages too), and a second process loads, not compiles.
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["AVATARFORGE_CACHE_DIR"] = str(tmp_path / "cache")
    first = _raster_in_new_process(env)
    second = _raster_in_new_process(env)
    assert first["dir"] == str(tmp_path / "cache" / "numba")
    assert first["misses"] == 1 and first["hits"] == 0
    assert second["misses"] == 0 and second["hits"] == 1
    assert first["covered"] == second["covered"] and 15 <= first["covered"] <= 21  # 15 inside + 6 on the edge
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi"))


def test_numba_cache_dir_from_the_environment_wins(tmp_path, monkeypatch):
    from avatarforge.util.paths import numba_cache_dir

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("AVATARFORGE_CACHE_DIR", str(tmp_path / "af"))
    assert numba_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert numba_cache_dir() == tmp_path / "af" / "numba"


def test_a_parallel_kernel_leaves_torch_thread_count_alone():
    # numba's OpenMP layer resets the caller's OpenMP thread count, which torch reads: without the
    # wrapper torch ran on 2 threads after the winding-number kernel although asked for 1.
    code = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        "torch.ones(64, 64) @ torch.ones(64, 64)  # torch has run (its OpenMP state is set up)\n"
        "before = torch.get_num_threads()\n"
        "from avatarforge.implicit.winding import winding_number\n"
        "v = np.array([[0., 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])\n"
        "f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])\n"
        "p = np.vstack([[[0.1, 0.1, 0.1], [2.0, 2, 2]], np.random.default_rng(0).uniform(-1, 2, (4000, 3))])\n"
        "w = winding_number(p, v, f, beta=None)  # enough points that numba starts its threads\n"
        "print(round(float(w[0]), 6), round(float(w[1]), 6), before, torch.get_num_threads())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    inside, outside, before, after = proc.stdout.split()
    assert abs(abs(float(inside)) - 1.0) < 1e-6 and abs(float(outside)) < 1e-6
    assert (before, after) == ("1", "1")
