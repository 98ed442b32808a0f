# Each target creates .venv when it is missing, so one command is enough on a fresh machine.
PY      ?= python3
VENV    ?= .venv
# papermill/nbval start the "python3" kernel as `python` from PATH: make that the venv's.
export PATH := $(abspath $(VENV))/bin:$(PATH)
VPY     := $(VENV)/bin/python
PROFILE ?= workshop
RUNDIR  := build/run-ci

.PHONY: setup course test lab bench book lock clean

# WHEELS=DIR: install from a workshop kit (python -m course_utils.prepare), no network: checked first.
PIPFROM := $(if $(WHEELS),--no-index --find-links $(abspath $(WHEELS))/wheels)

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(if $(WHEELS),$(PY) -m course_utils.prepare check $(WHEELS) --platform this --constraints constraints.txt)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q $(PIPFROM) -r requirements.txt -c constraints.txt
	$(VPY) -m pip install -q $(PIPFROM) --no-deps -e .
	touch $@

setup: $(VENV)/.installed

## make course: execute every notebook in order on the offline workshop profile -> runs/<timestamp>/
course: setup
	$(VPY) -m course_utils.run --profile $(PROFILE) $(if $(ASSETS),--assets $(ASSETS))

## make test: unit tests + every notebook executed once with the ci profile, its outputs checked, + the solutions under nbval
# The runner executes the notebooks into $(RUNDIR), saved as a reader sees them: tests/test_clean_outputs.py
# scans them, tests/test_checked_outputs.py compares their NBVAL_CHECK_OUTPUT cells with the stored outputs
# (nbval's rules). A failing notebook there fails those tests, not make. The solution notebooks run under nbval.
# The ci run has a fake Hub token in its environment: tests/test_safety.py checks that no notebook shows it.
# Speed on a 2-core laptop: the two tracks run side by side, and pytest runs TEST_JOBS workers (pytest-xdist,
# a test file per worker), each with one math thread: two processes that each spin on every core run slower
# together than one after the other. TEST_JOBS=0 runs pytest in one process.
FAKE_TOKEN := hf_FakeTokenForTheLeakTest0123456789abcd
TEST_JOBS ?= 2
test: setup
	$(VPY) -m course_utils.run --profile ci --prepare-only --notebook-dir solutions --output-dir build/nb-ci-solutions
	rm -rf $(RUNDIR)
	-HF_TOKEN=$(FAKE_TOKEN) HUGGING_FACE_HUB_TOKEN=$(FAKE_TOKEN) $(VPY) -m course_utils.run --profile ci --keep-going --tracks-in-parallel --output-dir $(RUNDIR)
	COURSE_TOKEN_RUN=$(RUNDIR) OMP_NUM_THREADS=1 $(VPY) -m pytest tests build/nb-ci-solutions --nbval-lax --nbval-current-env -p no:cacheprovider --durations=25 $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile)

# As root (a Docker or CI container) JupyterLab refuses to start without --allow-root.
lab: setup
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup
	$(VPY) -m benchmarks

## make book: the newest run of make course (or RUN=runs/<timestamp>) as a static site -> runs/<ts>/book/index.html
book: setup
	$(VPY) -m course_utils.book $(if $(RUN),--run $(RUN))

## make lock: refresh constraints.txt (the exact versions CI installs) from the current venv
lock: setup
	( echo '# Exact versions CI installs (make lock). requirements.txt holds the lower bounds.'; \
	  $(VPY) -m pip freeze --exclude-editable | sed 's/+cpu$$//' ) > constraints.txt

clean:
	rm -rf build .pytest_cache
