rule twin:
    """A fine-tuned judge's LLM moved into its audio twin backbone (same LLM inside the Omni thinker)."""
    input:
        source=lambda w: f"results/finetune/{twin_source(w.twin)}/{w.variant}/judge.json",
        base="results/backbones/{twin}/judge.json",
        conf=stage_conf("twin"),
    output:
        manifest="results/twins/{twin}/{variant}/judge.json",
    log:
        "results/logs/twin/{twin}/{variant}.log",
    params:
        settings=job_settings("twin"),
        args=lambda w, input, threads: hydra_args(threads, 
            "twin", f"results/twins/{w.twin}/{w.variant}", source=input.source, base=input.base
        ),
    threads: config["threads"]
    wildcard_constraints:
        variant=FLEX_VARIANT,
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{PYTHON} -m flexjudge.twin {params.args} 2>&1 | tee {log}"
