"""perception.segmentation.person_mask: MediaPipe's selfie segmentation behind the perception API."""

import numpy as np

from avatarforge.perception.segmentation import person_mask


def test_person_mask_separates_the_astronaut_from_the_background(astronaut):
    m = person_mask(astronaut)
    assert m is not None and m.dtype == np.float32 and m.shape == astronaut.shape[:2]
    assert 0.0 <= m.min() and m.max() <= 1.0
    assert m[100:140, 200:240].mean() > 0.9  # her face
    assert m[:40, :40].mean() < 0.1 and m[:60, 440:].mean() < 0.1  # the flag's corner, the backdrop by the shuttle



def _mask_mean(rgb: np.ndarray) -> float:
    return float(person_mask(rgb).mean())


def _forked_error(rgb: np.ndarray) -> str:
    try:
        person_mask(rgb)
    except RuntimeError as err:
        return str(err)
    return ""


def test_mediapipe_refuses_to_run_in_a_child_forked_after_use(astronaut):
    """MediaPipe is not fork-safe once used (the parent's graphs block in the child, a new one
    aborts it): a child forked after use gets a clear error instead; a spawned one works."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from avatarforge.perception import _mediapipe

    want = _mask_mean(astronaut)  # the parent now holds a selfie-segmentation graph
    assert "selfie" in _mediapipe.loaded_models()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        err = pool.submit(_forked_error, astronaut).result(timeout=300)  # a hang fails, not blocks
    assert "forked after its parent used it" in err
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        got = pool.submit(_mask_mean, astronaut).result(timeout=300)
    assert abs(got - want) < 1e-6
