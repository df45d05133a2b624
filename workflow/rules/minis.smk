rule minis:
    """Build one family of offline mini benchmarks in the official formats (gold by construction)."""
    input:
        conf=stage_conf("minis"),
    output:
        made="results/minis/made/{family}.json",
    log:
        "results/logs/minis/{family}.log",
    params:
        settings=job_settings("minis", n_items=config.get("minis_items", 12)),
        args=lambda w, threads: hydra_args(threads, 
            "minis", "results/minis", family=w.family, n_items=config.get("minis_items", 12)
        ),
    priority: 10  # curate's decontamination reads every mini: on the path to the fine-tuned judge
    shell:
        "{PYTHON} -m flexjudge.minis {params.args} 2>&1 | tee {log}"
