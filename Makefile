# The two commands a new machine needs (see README): `make quickstart` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup espeak chromium quickstart vits-demo vits-base vits-base-phonemes test base bench clean

setup: $(VENV)/.installed espeak

# torch first, pinned: 2.13.0 is the local CPU build; any other torch pulls several GB of CUDA.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# librosa compiles its numba kernels at import and caches them in site-packages; done once here,
	# before processes that start together (DDP ranks, test workers) race to write them (numba#4807).
	$(BIN)/python -c "import librosa"
	touch $@

espeak:
	@scripts/install_debian.sh espeak-ng espeak-ng

# Only the tests need a browser (the listening-test and UI pages are tested in headless Chromium).
chromium:
	@scripts/install_debian.sh chromedriver chromium chromium-driver

quickstart: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/quickstart.yaml

# The VITS backend offline: the committed small VITS base (assets/vits_demo_base) fine-tuned to a held-out voice.
vits-demo: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/vits_demo.yaml

# Rebuild assets/vits_demo_base from scratch (about 1 h 40 min on 2 cores to the committed step).
VITS_BASE_STEP ?= 4000
vits-base: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/vits_demo_base.yaml
	$(BIN)/hf-vclone export outputs/vits_demo_base/checkpoint-$(VITS_BASE_STEP) assets/vits_demo_base --merge --dtype float16

# Stage 2, an experiment (benchmarks/README.md, session 8): the letters base above, exported to
# outputs/vits_demo_base_letters, warm-starts a base that reads phonemes (recipes/vits_demo_base_phonemes.yaml).
vits-base-phonemes: setup
	$(BIN)/hf-vclone export outputs/vits_demo_base/checkpoint-$(VITS_BASE_STEP) outputs/vits_demo_base_letters --merge --dtype float16
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/vits_demo_base_phonemes.yaml

test: setup chromium
	$(BIN)/python -m pytest -n auto --dist loadfile

# Rebuild the committed quickstart base from scratch (about 2 hours on 2 cores): train, then export
# the checkpoint that was committed (assets/quickstart_base/README.md says why that one) in float16.
BASE_STEP ?= 6000
base: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/quickstart_base.yaml
	$(BIN)/hf-vclone export outputs/quickstart_base/checkpoint-$(BASE_STEP) assets/quickstart_base --merge --dtype float16

# Speed figures against the reference pipeline (benchmarks/README.md); about 45 minutes.
bench: setup
	$(BIN)/python benchmarks/prepare_throughput.py --num-proc 2
	$(BIN)/python benchmarks/training_speed.py --size full --steps 12 --repeats 3 \
		--systems reference reference_no_gc full --levers "full + bf16 autocast"
	$(BIN)/python benchmarks/training_speed.py --size full --steps 12 --systems reference full freeze_lower lora --levers --worker-timeout 300
	$(BIN)/python benchmarks/training_speed.py --size small --steps 150 --systems reference full --levers "full + bf16 autocast"

clean:
	rm -rf outputs data
