rule sample:
    """A teacher scores both answers of every pool row at low temperature, once per seed (engine + cache)."""
    input:
        judge="results/backbones/{teacher}/judge.json",
        pool=rules.curate.output.pool,
        conf=stage_conf("sample"),
    output:
        samples="results/sample/{teacher}/samples.jsonl",
        report="results/sample/{teacher}/report.json",
    log:
        "results/logs/sample/{teacher}.log",
    params:
        settings=job_settings("sample"),
        args=lambda w, input, threads: hydra_args(threads, 
            "sample", f"results/sample/{w.teacher}", teacher=w.teacher, judge=input.judge, pool=input.pool
        ),
    threads: config["threads"]
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{PYTHON} -m flexjudge.sample {params.args} 2>&1 | tee {log}"


rule select:
    """The SFT set of one judge: filters and format mix over the teacher's samples, with a provenance manifest."""
    input:
        samples=lambda w: f"results/sample/{teacher_of(w.backbone)}/samples.jsonl",
        report=lambda w: f"results/sample/{teacher_of(w.backbone)}/report.json",
        tokenizer=lambda w: f"results/backbones/{teacher_of(w.backbone)}/judge.json",
        pool=rules.curate.output.pool,
        curate=rules.curate.output.manifest,
        conf=stage_conf("select"),
    output:
        sft="results/select/{backbone}/{variant}/sft.jsonl",
        manifest="results/select/{backbone}/{variant}/manifest.json",
    log:
        "results/logs/select/{backbone}/{variant}.log",
    params:
        settings=lambda w: job_settings(
            "select", w.variant, target=sft_size(w.variant), teacher=teacher_of(w.backbone)
        ),
        args=lambda w, input, output, threads: hydra_args(threads, 
            "select",
            str(Path(output.sft).parent),
            recipe=w.variant,
            name=f"{w.backbone}/{w.variant}",
            teacher=teacher_of(w.backbone),
            target=sft_size(w.variant),
            samples=input.samples,
            sample_report=input.report,
            tokenizer=input.tokenizer,
            pool=input.pool,
            curate_manifest=input.curate,
        ),
    wildcard_constraints:
        variant=FLEX_VARIANT,
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{PYTHON} -m flexjudge.select {params.args} 2>&1 | tee {log}"
