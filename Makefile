# Two set-up commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch is pinned: a plain `torch` would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test install install-dev tools browser clean-out

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e .

install-dev: $(PY)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[dev]"

# The Khronos glTF validator (npm), used by the tests to check every GLB we write.
tools: tools/node_modules/.package-lock.json

tools/node_modules/.package-lock.json: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error

# Headless Chromium for the studio's browser tests: Debian's package, driven by Playwright
# (never Playwright's own browser download). Idempotent; CI runs as root, else sudo is used.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	  else echo "chromium is missing and cannot be installed (not root, no sudo): the studio browser tests need it" >&2; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

demo: install
	$(VENV)/bin/avatarforge create examples/astronaut.jpg -o out/demo --force
	@echo "demo written to out/demo (avatar.glb, preview.png, render_fitted.png, report.json, ...)"

test: install-dev tools browser
	$(PY) -m pytest $(PYTEST_ARGS)
