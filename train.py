"""`accelerate launch train.py RECIPE.yaml [key=value ...]` (or plain `python train.py ...`)."""

import sys

from hf_vclone.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
