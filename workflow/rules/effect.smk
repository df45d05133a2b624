rule effect:
    """The fine-tuned judge against its base on one benchmark, item by item (workflow config `effect`)."""
    input:
        control=lambda w: effect_predictions(w.backbone, config["effect"]["control"]),
        treated=lambda w: effect_predictions(w.backbone, config["effect"]["treated"]),
        conf=stage_conf("effect"),
    output:
        json="results/effect/{backbone}/effect.json",
        md="results/effect/{backbone}/effect.md",
        png="results/effect/{backbone}/effect.png",
    log:
        "results/logs/effect/{backbone}.log",
    params:
        settings=lambda w: job_settings("effect", control=config["effect"]["control"], treated=config["effect"]["treated"]),
        args=lambda w, input, threads: hydra_args(threads, 
            "effect",
            f"results/effect/{w.backbone}",
            **{
                "control.name": config["effect"]["control"],
                "control.predictions": input.control,
                "treated.name": config["effect"]["treated"],
                "treated.predictions": input.treated,
            },
        ),
    shell:
        "{PYTHON} -m flexjudge.effect {params.args} 2>&1 | tee {log}"
