# The README's two commands are `make demo` and `make test`; everything else is a helper.
# A virtual environment in .venv is created on first use (torch's CPU build first, then the package).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps browser-deps demo effect molecules paper report test test-fast bench lint dry-run unlock clean-results

setup: $(STAMP) system-deps

## system-deps: espeak-ng (speech for the audio mini benchmarks); installed with apt when missing and root
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing espeak-ng (apt)"; \
	    apt-get install -y -q espeak-ng >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q espeak-ng >/dev/null; }; \
	  else \
	    echo "espeak-ng is missing: the audio mini benchmarks need it (sudo apt-get install espeak-ng)"; exit 1; \
	  fi; }

## browser-deps: chromium, for the HTML report's browser test (make test only, so the demo does not wait for
## it); installed with apt when missing and root. Without chromium that test is skipped, with that reason.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt)"; \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "chromium is missing: the HTML report's browser test will be skipped (sudo apt-get install chromium)"; \
	  fi; }

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,slurm,serve]"
	touch $(STAMP)

## demo: run the whole pipeline on the embedded default (SmolLM2-135M inside Qwen2.5-VL), on CPU
demo: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES)

## effect: the method's effect (1,000 SFT rows, the paper's size), 300 held-out pairs, k = 5, both
## orders, base vs fine-tuned, in its own working directory results/effect/ (1 h 57 min on the laptop, 2026-12-02)
effect: setup
	mkdir -p results/effect
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) --configfile workflow/effect.yaml --directory results/effect

## molecules: the demo plus the paper's molecular application (workflow/molecules.yaml): the FLEX judge imported
## into a small molecular LLM, a policy's 16 answers per molecule, best-of-N, judge-built pairs, DPO, accuracy after
molecules: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) --configfile workflow/molecules.yaml

## paper: the demo plus the paper's remaining experiments (workflow/paper.yaml): the answer-first judge (Fig. 5
## left) and VQA retention (Table 11), in the same results/ folder (the demo's jobs are reused)
paper: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) --configfile workflow/paper.yaml

## report: rebuild the leaderboard and its HTML report (results/leaderboard/index.html) from whatever is under
## results/eval; the same command as the workflow's leaderboard rule (workflow/rules/leaderboard.smk)
report: setup
	$(BIN)/python -m flexjudge.leaderboard out_dir=results/leaderboard logger=wandb threads=1 hydra.run.dir=results/leaderboard

## test: the full test suite, including a Snakemake run of the DAG on tiny random backbones
test: setup browser-deps
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

dry-run: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) -n

unlock: setup
	$(BIN)/snakemake --profile workflow/profiles/default --unlock

## bench: every script under bench/ (each prints its own side-by-side ratios); TRL is the SFT baseline
bench: setup
	$(BIN)/pip install --quiet -c constraints.txt -e ".[trl]"
	@set -e; found=0; for f in bench/*.py; do [ -e "$$f" ] || continue; found=1; \
	  echo "== $$f"; $(BIN)/python $$f; done; \
	  [ $$found = 1 ] || { echo "no benchmark scripts under bench/ yet"; exit 1; }

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/lint-imports

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
