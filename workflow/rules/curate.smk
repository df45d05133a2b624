rule curate:
    """Split the text preference data into an SFT pool and a disjoint held-out set."""
    input:
        data=REPO / "data/hh-rlhf-harmless-base/test.jsonl.gz",
        conf=stage_conf("curate"),
    output:
        pool="results/curate/pool.jsonl",
        heldout="results/curate/heldout.jsonl",
        manifest="results/curate/manifest.json",
    log:
        "results/logs/curate.log",
    params:
        args=lambda w, input: hydra_args("curate", "results/curate", source=input.data),
    shell:
        "{PYTHON} -m flexjudge.curate {params.args} 2>&1 | tee {log}"
