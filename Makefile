# Two entry points: `make demo` (train the example, serve TensorBoard) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOGDIR ?= logs
PORT ?= 6006
# The tests run on all three Keras backends. This PyTorch is the CPU build this machine's
# installer finds; an unpinned torch pulls a multi-GB GPU build.
TORCH ?= torch==2.13.0
# What runs on JAX and PyTorch besides the full suite on TensorFlow: the capture, gradient and
# value tests (the cross-backend comparison itself is in test_backends.py's slow tests).
BACKEND_TESTS = tests/test_backends.py tests/test_capture.py tests/test_gradients.py \
	tests/test_gradient_quantities.py tests/test_reductions.py tests/test_bind.py \
	tests/test_callback.py tests/test_callback_values.py tests/test_information_quantities.py \
	tests/test_representation_quantities.py tests/test_presets.py tests/test_callback_unbuilt.py \
	tests/test_callback_rerun.py tests/test_guard.py tests/test_recording.py \
	tests/test_disk_failures.py tests/test_tabular_groups.py tests/test_findings.py

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tensorflow-cpu,jax,test]' '$(TORCH)'

demo: install
	$(PY) examples/demo.py --logdir $(LOGDIR) --port $(PORT)

test: install
	$(PY) -m ruff check keras_inspect tb_plugin tests examples benchmarks
	$(VENV)/bin/lint-imports
	node --test tests/js/
	$(PY) -m pytest
	KERAS_BACKEND=jax $(PY) -m pytest -q -m 'not slow and not browser' $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(PY) -m pytest -q -m 'not slow and not browser' $(BACKEND_TESTS)

bench: install
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info $(LOGDIR)
