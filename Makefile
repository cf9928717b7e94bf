# Two entry points: `make demo` (train the example, serve TensorBoard) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOGDIR ?= logs
PORT ?= 6006

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tensorflow-cpu,test]'
	$(PY) -m tb_plugin.chart_bundle --optional

demo: install
	$(PY) examples/demo.py --logdir $(LOGDIR) --port $(PORT)

test: install
	$(PY) -m ruff check keras_inspect tb_plugin tests examples benchmarks
	$(VENV)/bin/lint-imports
	node --test tests/js/
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info $(LOGDIR)
