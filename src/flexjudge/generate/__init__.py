"""Generation backends; `hf` (transformers generate) is the CPU default."""
