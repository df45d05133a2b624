"""Judge core: prompts, parsing of model output, voting over repeated samples."""
