"""Developer tools and test support: never imported by the runtime package (an import-linter
contract in ``pyproject.toml`` enforces it), free to import any layer.

Data builders (run as ``python -m avatarforge.dev.<tool>``):

* :mod:`.build_embedding` -- makes ``data/anny_landmarks.npz`` (the landmark embedding);
* :mod:`.body_fit_calibrate` -- calibrates ``fitting.body_fit_landmarks.LANDMARK_ANCHORS``;
* :mod:`.iris_data`, :mod:`.iris_train` -- the eye network's data set and training
  (``data/eye_net.pt``).

Public test support (synthetic inputs with known answers, used by ``tests/`` and
``benchmarks/``):

* :mod:`.face_synthetic` -- rendered faces with known parameters and camera;
* :mod:`.body_synthetic` -- rendered bodies with known pose, shape and 2D landmarks;
* :mod:`.studio_browser` -- drives the studio in headless Chromium through Playwright.
"""
