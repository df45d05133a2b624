rule provision:
    """Build or register a backbone and write its judge.json."""
    input:
        conf=lambda w: stage_conf("provision", backbone=w.backbone),
    output:
        manifest="results/backbones/{backbone}/judge.json",
    log:
        "results/logs/provision/{backbone}.log",
    params:
        settings=job_settings("provision"),
        args=lambda w, threads: hydra_args(threads, "provision", f"results/backbones/{w.backbone}", backbone=w.backbone),
    threads: config["threads"]
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{PYTHON} -m flexjudge.provision {params.args} 2>&1 | tee {log}"
