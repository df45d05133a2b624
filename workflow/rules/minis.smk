rule minis:
    """Build one family of offline mini benchmarks in the official formats (gold by construction)."""
    input:
        conf=stage_conf("minis"),
    output:
        made="results/minis/made/{family}.json",
    log:
        "results/logs/minis/{family}.log",
    params:
        settings=lambda w: job_settings("minis", n_items=mini_items(w.family)),
        args=lambda w, threads: hydra_args(threads, "minis", "results/minis", family=w.family, n_items=mini_items(w.family)),
    priority: 10  # curate's decontamination reads every mini: on the path to the fine-tuned judge
    shell:
        "{PYTHON} -m flexjudge.minis {params.args} 2>&1 | tee {log}"
