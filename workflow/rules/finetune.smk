rule finetune:
    """SFT of the backbone's LLM on its selected rationales; writes a safetensors judge."""
    input:
        base="results/backbones/{backbone}/judge.json",
        data=rules.select.output.sft,
        provenance=rules.select.output.manifest,
        conf=lambda w: stage_conf("finetune", backbone=w.backbone, trainer=config["trainer"]),
        launch=conf_file("accelerate", config.get("accelerate", "single")),
    output:
        manifest="results/finetune/{backbone}/{variant}/judge.json",
        report="results/finetune/{backbone}/{variant}/train_report.json",
    log:
        "results/logs/finetune/{backbone}/{variant}.log",
    params:
        settings=lambda w: job_settings("finetune", w.variant),
        launcher=finetune_launcher(),
        args=lambda w, input, threads: hydra_args(threads, 
            "finetune",
            f"results/finetune/{w.backbone}/{w.variant}",
            recipe=w.variant,
            backbone=w.backbone,
            trainer=config["trainer"],
            base=input.base,
            data=input.data,
        ),
    threads: job_threads("finetune")
    wildcard_constraints:
        variant=FLEX_VARIANT,
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{params.launcher} -m flexjudge.finetune {params.args} 2>&1 | tee {log}"
