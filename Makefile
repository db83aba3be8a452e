# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench demo lock clean readme-config screenshots

# Reinstall only when the dependency declarations change.
$(STAMP): setup.cfg constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[embedded,test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	ERX_ENV=$${ERX_ENV:-development} $(BIN)/erx-gateway run

# The import rules (setup.cfg [importlinter]), the lint rules (pyproject.toml [tool.ruff]) and
# the type checker (setup.cfg [mypy]) first: they take seconds and name the line at fault.
# tools/browser-deps installs Chromium and its driver for the console's browser tests when
# missing (root with apt-get), or stops at once saying how.
test: lint
	tools/browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

demo: install
	$(BIN)/python -m tools.demo

# docs/screenshots/*.png of every console page (needs chromium and chromedriver).
screenshots: install
	$(BIN)/python -m tools.screenshots

# Re-pin every installed version after changing setup.cfg.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^erx-gateway' > constraints.txt.new
	{ echo "# Exact versions installed by 'make install' (pip -c). Regenerate with: make lock"; cat constraints.txt.new; \
	  grep -E '^(setuptools|wheel)==' constraints.txt; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt; rm -f constraints.txt.new

clean:
	rm -rf $(VENV) var/run

# Regenerate README.md's configuration table from gateway/config.py.
readme-config: install
	$(BIN)/python -c "import re,subprocess,pathlib; p=pathlib.Path('README.md'); \
	t=subprocess.run(['$(BIN)/erx-gateway','config','--format','markdown'],env={},capture_output=True,text=True,check=True).stdout; \
	s=p.read_text(); p.write_text(re.sub(r'(<!-- config-table:start -->\n).*?(<!-- config-table:end -->)', lambda m: m.group(1)+t+m.group(2), s, flags=re.S))"
