"""Importing mediapipe through avatarforge does not pay for matplotlib.pyplot, which still
works in full when something uses it."""

import subprocess
import sys


def test_pyplot_loads_only_when_used():
    code = (
        "import sys\n"
        "from avatarforge.perception import load_mediapipe\n"
        "load_mediapipe()\n"
        "print('matplotlib.figure' in sys.modules)\n"
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(2, 1), dpi=50)\n"
        "ax.plot([0, 1], [0, 1])\n"
        "fig.canvas.draw()\n"
        "print('matplotlib.figure' in sys.modules, fig.canvas.get_width_height())\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "print(drawing_utils.plt.get_backend().lower())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["False", "True (100, 50)", "agg"]
