# The two commands a new machine needs (see README): `make quickstart` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup espeak chromium quickstart speecht5-demo vits-demo vits-base vits-base-phonemes tacotron2-demo tacotron2-base test base bench clean

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

# The offline quickstart: the committed small Tacotron 2 (assets/tacotron2_demo_base, `make tacotron2-base`),
# which speaks, fine-tuned to the held-out voice us_f5 with the founding documents' recipe (encoder frozen).
quickstart: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/quickstart.yaml

# The SpeechT5 pipeline offline (the quickstart until 2026-12-05): its committed base (assets/quickstart_base,
# `make base`) does not speak its text (issue 15), so the clone takes the timbre and no words.
speecht5-demo: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/speecht5_demo.yaml

# The VITS backend offline: the committed small VITS base (assets/vits_demo_base) fine-tuned to a held-out voice.
vits-demo: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/vits_demo.yaml

# Rebuild assets/vits_demo_base from scratch, in eight stages on 2 cores (benchmarks/README.md, sessions
# 8-21; about 7.5 h on 2 AVX2 cores, most of it the GAN stages):
#   1. letters, every part, from scratch (step VITS_BASE_STEP of recipes/vits_demo_base.yaml);
#   2. a phoneme text side and the flow on espeak-ng's phoneme timings, the rest frozen (step 1500 of 3000);
#   3. the waveform side with the GAN, the text side frozen (500 steps);
#   4. a fresh decoder and discriminator on the frozen latent (2000 steps, then resumed on a longer
#      cosine to VITS_DECODER_MAX; step VITS_DECODER_STEP), exported to outputs/vits_stage4;
#   5. a sharper posterior: the KL at a tenth, the text side frozen (recipes/vits_demo_base_sharp.yaml, 500 steps);
#   6. a fresh text side three times as deep (6 layers, ffn 384) on that frozen latent (2000 steps), its
#      pace measured on its training clips at noise 0 (scripts/calibrate_vits_pace.py, 1.3 x their length:
#      the length that read best on held-out sentences), exported in float16;
#   7. a polish without the GAN: the posterior encoder, flow and decoder on the posterior's mean, mel and KL
#      only, the text side frozen (recipes/vits_demo.yaml on the base corpus, 480 steps, 7.5 min), the pace
#      measured again, exported in float16 over stage 6;
#   8. the same polish again from stage 7's export, 960 steps (14.5 min), exported in float16 over stage 7.
VITS_BASE_STEP ?= 4000
VITS_DECODER_MAX ?= 4250
VITS_DECODER_STEP ?= 3500
VITS_PACE ?= 1.3
LAUNCH = $(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py
CONTINUE = model.processor=null model.init_config=null model.warm_start=null 'model.warm_start_exclude=[]' vits.phonemize=false
vits-base: setup
	$(LAUNCH) recipes/vits_demo_base.yaml
	$(BIN)/hf-vclone export outputs/vits_demo_base/checkpoint-$(VITS_BASE_STEP) outputs/vits_demo_base_letters --merge --dtype float16
	$(LAUNCH) recipes/vits_demo_base_espeak_align.yaml 'strategy.freeze_groups=[posterior_encoder,decoder]' \
	  output.dir=outputs/vits_espeak_flow
	$(LAUNCH) recipes/vits_demo_base_espeak_align.yaml model.name_or_path=outputs/vits_espeak_flow/checkpoint-1500 \
	  $(CONTINUE) 'strategy.freeze_groups=[text_encoder,duration_predictor]' \
	  vits.discriminator=outputs/vits_espeak_flow/checkpoint-1500 output.dir=outputs/vits_espeak_stage3 \
	  training.warmup_steps=50 training.max_steps=500 training.save_steps=250
	$(LAUNCH) recipes/vits_demo_base_decoder.yaml
	$(LAUNCH) recipes/vits_demo_base_decoder.yaml training.resume_from_checkpoint=latest training.max_steps=$(VITS_DECODER_MAX)
	$(BIN)/hf-vclone export outputs/vits_fresh_decoder/checkpoint-$(VITS_DECODER_STEP) outputs/vits_stage4 --merge \
	  --dtype float16 --noise-scale 0.333 --noise-scale-duration 0.333
	$(LAUNCH) recipes/vits_demo_base_sharp.yaml
	$(BIN)/hf-vclone export outputs/vits_sharp/checkpoint-500 outputs/vits_base_sharp --merge --dtype float16 \
	  --noise-scale 0.333 --noise-scale-duration 0.333
	$(LAUNCH) recipes/vits_demo_base_espeak_align.yaml model.warm_start=outputs/vits_base_sharp \
	  model.init_config.num_hidden_layers=6 model.init_config.ffn_dim=384 \
	  'strategy.freeze_groups=[posterior_encoder,flow,decoder]' vits.discriminator=outputs/vits_base_sharp \
	  output.dir=outputs/vits_deep_text training.max_steps=2000 training.save_steps=500
	$(BIN)/python scripts/calibrate_vits_pace.py recipes/vits_demo_base_espeak_align.yaml \
	  model.name_or_path=outputs/vits_deep_text/checkpoint-2000 $(CONTINUE) vits.alignment=search \
	  model.config_overrides.noise_scale=0.0 model.config_overrides.noise_scale_duration=0.0 \
	  vits.discriminator=outputs/vits_deep_text/checkpoint-2000 vits.calibrate_length=$(VITS_PACE) \
	  output.dir=outputs/vits_deep_paced
	$(BIN)/hf-vclone export outputs/vits_deep_paced assets/vits_demo_base --merge --dtype float16
	$(LAUNCH) recipes/vits_demo.yaml output.dir=outputs/vits_base_polish data.path=data/base_corpus data.speaker=us_f2 \
	  data.max_minutes=null data.eval_size=4 data.demo_clips_per_voice=1000 evaluation.enabled=false \
	  vits.calibrate_length=$(VITS_PACE) training.max_steps=480
	$(BIN)/hf-vclone export outputs/vits_base_polish assets/vits_demo_base --merge --dtype float16
	$(LAUNCH) recipes/vits_demo.yaml output.dir=outputs/vits_base_polish2 data.path=data/base_corpus data.speaker=us_f2 \
	  data.max_minutes=null data.eval_size=4 data.demo_clips_per_voice=1000 evaluation.enabled=false \
	  vits.calibrate_length=$(VITS_PACE) training.max_steps=960
	$(BIN)/hf-vclone export outputs/vits_base_polish2 assets/vits_demo_base --merge --dtype float16

# An experiment (benchmarks/README.md, session 8): stage 1's letters base, exported to
# outputs/vits_demo_base_letters, warm-starts a base that reads phonemes (recipes/vits_demo_base_phonemes.yaml).
vits-base-phonemes: setup
	$(BIN)/hf-vclone export outputs/vits_demo_base/checkpoint-$(VITS_BASE_STEP) outputs/vits_demo_base_letters --merge --dtype float16
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/vits_demo_base_phonemes.yaml

# The quickstart's old name (sessions 23-30): the same recipe.
tacotron2-demo: quickstart

# Rebuild assets/tacotron2_demo_base from scratch on 2 cores (about 4.5 h): stage 1 (2000 steps, cosine,
# about 72 min; session 23 used its checkpoint-1500 and stopped it there), stage 2 teaches the stop gate (200 steps,
# head only, about 5 min), stage 3 trains everything on (1500 steps, about 50 min), stage 4 again at a lower
# rate (1200 steps, about 40 min), stage 5 again lower still, in bf16 (1200 steps, about 30 min), stage 6 and stage 7 the same once more
# (about 30 min each), exported in float16.
TACOTRON2_BASE_STEP ?= 1500
tacotron2-base: setup
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base.yaml
	$(BIN)/hf-vclone export outputs/tacotron2_demo_base/checkpoint-$(TACOTRON2_BASE_STEP) outputs/tacotron2_demo_base_stage1 --merge
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_gate.yaml
	$(BIN)/hf-vclone export outputs/tacotron2_demo_base_gate outputs/tacotron2_demo_base_stage2 --merge
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_more.yaml
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_stage4.yaml
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_stage5.yaml
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_stage6.yaml
	$(BIN)/accelerate launch --config_file accelerate_configs/cpu.yaml train.py recipes/tacotron2_demo_base_stage7.yaml
	$(BIN)/hf-vclone export outputs/tacotron2_demo_base_stage7 assets/tacotron2_demo_base --merge --dtype float16

test: setup chromium
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=25

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
