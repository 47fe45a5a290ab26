# The two commands a user types on a fresh machine: `make run` and `make test`.
# Each creates .venv on first use and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: run test test-airflow2 lint format bench bench-full check-java clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory check-java
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[spark,dev,bench]'
	@touch $@

check-java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "Java 17 or newer is required by Spark (found: $${v:-none})."; \
	  echo "Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17;"; \
	  echo "or point JAVA_HOME at a JDK 17+."; exit 1; \
	fi

run: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/curation sample data/sample --docs 3000 --seed 42
	$(BIN)/curation train-classifier conf/train_demo.yaml
	$(BIN)/curation run conf/local_demo.yaml

# Four workers on two cores: the platform tests (tool venvs, standalone clusters, spark-submit)
# wait on other processes much of the time, so they run beside the in-process tests; a file
# stays on one worker and files with slow tests are handed out first (tests/conftest.py).
# --no-loadscope-reorder keeps that order: xdist would hand out the files with most tests
# first, and the slowest files (one long test each) came last and made the run's tail.
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 4 --dist loadgroup --no-loadscope-reorder --durations=15

# The Airflow tests again on Airflow 2.11 (its own venv), which `make test` skips for time.
test-airflow2: $(STAMP)
	CURATION_TEST_AIRFLOW2=1 $(BIN)/pytest -q -p no:cacheprovider tests/platforms/test_airflow.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The peers run from their own venv so their pins never meet ours: datatrove (its filters need
# spaCy's rule-based tokenizer, no model download; its URLFilter tldextract and pyahocorasick,
# its decontamination nltk; its TokensCounter tokenizers), Presidio's pattern recognizers
# (phonenumbers; Faker makes the injected PII of benchmarks/pii_eval.py) and text-dedup 0.3.1,
# whose Spark script wants pyspark < 4 (its own pins, numpy < 2 and scipy 1.9.1, do not build on
# Python 3.11 and its script needs neither: installed without them). Every benchmark script's
# --peer-python defaults to this venv.
PEERS := .venv-peers
$(PEERS)/.installed: | $(STAMP)
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q --upgrade pip
	$(PEERS)/bin/pip install -q 'datatrove==0.10.1' spacy regex 'pyspark>=3.5,<3.6' scipy rich pyarrow 'xxhash<4' orjson tokenizers \
	  tldextract pyahocorasick nltk 'presidio-analyzer==2.2.366' 'phonenumbers==9.0.43' 'Faker==40.63.0'
	$(PEERS)/bin/pip install -q --no-deps 'text-dedup==0.3.1'
	@touch $@

# Quick mode (a few minutes): every result lands in benchmarks/results/harness_quick.{json,md}.
bench: $(STAMP) $(PEERS)/.installed
	$(BIN)/python benchmarks/run.py --mode quick

# Full mode: 100k, 300k and 1M documents, each stage alone, the pipeline, all peers (95 min here).
bench-full: $(STAMP) $(PEERS)/.installed
	$(BIN)/python benchmarks/run.py --mode full

clean:
	rm -rf $(VENV) out data/sample models spark-warehouse

# `make package`: the wheel and a packed virtual environment (venv-pack) for clusters:
#   spark-submit --archives dist/curation-env.tar.gz#env \
#     --conf spark.pyspark.python=./env/bin/python jobs/run_pipeline.py conf/<recipe>.yaml
# The archive holds the environment's packages, not a Python interpreter: cluster nodes need the
# same Python version, at the prefix given by PACK_PYTHON_PREFIX (default: this machine's).
# It holds the `spark` extra (delta-spark's Python API for a driver in cluster mode), with the
# pyspark pip pairs it with, or PACK_PYSPARK=3.5.6 (any version in the supported range) to match
# the cluster's. pyspark's jars (456 MB) are left out: Spark puts its own pyspark.zip on every
# Python worker's path, so executors never load them; this makes the archive 243 MB, not 688 MB.
PKG_ENV     := build/package-env
PKG_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PKG_WHEEL   := dist/curation-$(PKG_VERSION)-py3-none-any.whl
PKG_ARCHIVE := dist/curation-env.tar.gz
PKG_SOURCES := pyproject.toml README.md $(shell find curation -type f -not -path '*/__pycache__/*')
PACK_PYTHON_PREFIX ?=
PACK_PYSPARK ?=

.PHONY: package
package: $(PKG_WHEEL) $(PKG_ARCHIVE)

# setuptools builds in build/lib and would ship modules deleted since the last build: start clean.
$(PKG_WHEEL): $(PKG_SOURCES) | $(STAMP)
	rm -rf dist/curation-*.whl build/lib build/bdist.*
	$(BIN)/pip wheel -q --no-deps -w dist .

# The dependencies change only with pyproject.toml: reinstalled then, reused otherwise.
$(PKG_ENV)/.deps: pyproject.toml
	rm -rf $(PKG_ENV)
	$(PYTHON) -m venv $(PKG_ENV)
	$(PKG_ENV)/bin/pip install -q --upgrade pip
	@touch $@

$(PKG_ARCHIVE): $(PKG_WHEEL) $(PKG_ENV)/.deps
	$(PKG_ENV)/bin/pip install -q '$(PKG_WHEEL)[spark,package]' \
	  $(if $(PACK_PYSPARK),'pyspark==$(PACK_PYSPARK)')
	# The same version rebuilt: pip would keep the installed copy.
	$(PKG_ENV)/bin/pip install -q --no-deps --force-reinstall $(PKG_WHEEL)
	$(PKG_ENV)/bin/venv-pack -q -p $(PKG_ENV) -o $@ --force \
	  --exclude 'lib/python*/site-packages/pyspark/jars/*' \
	  $(if $(PACK_PYTHON_PREFIX),--python-prefix $(PACK_PYTHON_PREFIX))

# `make compat`: the demo recipe and a near-dedup run on every supported pyspark (3.5 through
# 4.3, one venv each under .venv-compat/, built on first use), each compared with this .venv's
# run: kept ids and drop reasons must be equal. Results: benchmarks/results/compat.{json,md}.
.PHONY: compat
compat: $(STAMP)
	$(BIN)/python benchmarks/compat.py --python $(PYTHON)
