# 质量信用红黑榜 — the two commands: `make run` (set up, demo data, serve) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi
# pytest arguments, e.g. `make test PYTEST_ARGS="-k audit"`
PYTEST_ARGS ?=

.PHONY: run setup test lint audit format browser clean messages compile-messages bench

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed
	$(FLASK) credit init
	$(FLASK) credit demo

run: setup
	$(FLASK) run --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium, and their screenshots need a CJK font (Noto CJK): install
# them when missing.
browser:
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ] && fc-list :lang=zh | grep -q .; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: $(BIN)/.installed browser
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Supply chain: bandit over our code (medium severity and up fails), pip-audit over the pinned
# dependencies. pip-audit needs its vulnerability service; where that cannot be reached it says so
# (the packages are then NOT audited) instead of passing silently.
audit: $(BIN)/.installed
	$(BIN)/bandit -q -r credit -ll
	@out=$$($(BIN)/pip-audit -r requirements.txt --progress-spinner off 2>&1); status=$$?; echo "$$out" | tail -n 20; \
	  if echo "$$out" | grep -q "could not be audited"; then \
	    echo "pip-audit: WARNING: the vulnerability service could not be reached for some packages; those were NOT audited"; fi; \
	  exit $$status

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Translations (babel.cfg): extract every marked string and merge it into the catalogs, then compile.
messages: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.* __pycache__ tests' \
	  --add-comments=TRANSLATORS: --sort-output --project=credit -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

compile-messages: $(BIN)/.installed
	$(BIN)/pybabel compile -d translations --statistics

# Benchmarks (docs/performance.md): every bench/*.py that follows the convention — a main() reading
# BENCH_FIRMS (and BENCH_DATABASE_URL, default SQLite files in bench/data/) — at 100k firms by default;
# `make bench BENCH_FIRMS=1000000` for the full bars. Each prints its own RESULT line.
BENCH_FIRMS ?= 100000
bench: $(BIN)/.installed
	@mkdir -p bench/data
	@set -e; for script in bench/*.py; do \
	  grep -q 'BENCH_FIRMS' $$script && grep -q '^def main(' $$script || continue; \
	  echo "== $$script (BENCH_FIRMS=$(BENCH_FIRMS))"; \
	  BENCH_FIRMS=$(BENCH_FIRMS) $(BIN)/python $$script; \
	done
