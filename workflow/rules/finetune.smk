rule finetune:
    """SFT of the backbone's LLM on the sampled rationales; writes a safetensors judge."""
    input:
        base="results/backbones/{backbone}/judge.json",
        data=rules.sample.output.sft,
        conf=lambda w: stage_conf("finetune", backbone=w.backbone, trainer=config["trainer"]),
        launch=conf_file("accelerate", config.get("accelerate", "single")),
    output:
        manifest="results/finetune/{backbone}/judge.json",
        report="results/finetune/{backbone}/train_report.json",
    log:
        "results/logs/finetune/{backbone}.log",
    params:
        launcher=finetune_launcher(),
        args=lambda w, input: hydra_args(
            "finetune",
            f"results/finetune/{w.backbone}",
            backbone=w.backbone,
            trainer=config["trainer"],
            base=input.base,
            data=input.data,
        ),
    threads: config["threads"]
    shell:
        "{params.launcher} -m flexjudge.finetune {params.args} 2>&1 | tee {log}"
