"""`hf-vclone listen-test`: a blinded MOS listening test over the samples that evaluation writes."""
