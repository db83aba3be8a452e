# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench demo lock clean

# Reinstall only when the dependency declarations change.
$(STAMP): setup.cfg constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[embedded,test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	ERX_ENV=$${ERX_ENV:-development} $(BIN)/erx-gateway run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

demo: install
	$(BIN)/python -m gateway.demo

# Re-pin every installed version after changing setup.cfg.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^erx-gateway' > constraints.txt.new
	{ echo "# Exact versions installed by 'make install' (pip -c). Regenerate with: make lock"; cat constraints.txt.new; \
	  grep -E '^(setuptools|wheel)==' constraints.txt; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt; rm -f constraints.txt.new

clean:
	rm -rf $(VENV) var/run
