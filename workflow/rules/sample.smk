# One sample rule per kind of training data (TRAINING_DATA): rule sample reads results/curate/, rule
# sample_image results/curate_image/.
for _data, _folder in TRAINING_DATA.items():
    _sampled = sample_folder(_data)

    rule:
        name:
            _sampled
        input:
            judge="results/backbones/{teacher}/judge.json",
            pool=f"results/{_folder}/pool.jsonl",
            conf=stage_conf("sample"),
        output:
            samples=f"results/{_sampled}/{{teacher}}/samples.jsonl",
            report=f"results/{_sampled}/{{teacher}}/report.json",
        log:
            f"results/logs/{_sampled}/{{teacher}}.log",
        params:
            settings=job_settings("sample", DATA_RECIPES[_data]),
            args=lambda w, input, threads, data=_data, sampled=_sampled: hydra_args(
                threads,
                "sample",
                f"results/{sampled}/{w.teacher}",
                recipe=DATA_RECIPES[data],
                teacher=w.teacher,
                judge=input.judge,
                pool=input.pool,
            ),
        threads: config["threads"]
        priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
        shell:
            "{PYTHON} -m flexjudge.sample {params.args} 2>&1 | tee {log}"


rule select:
    """The SFT set of one judge: filters and format mix over the teacher's samples, with a provenance manifest."""
    input:
        samples=lambda w: f"results/{sample_folder(data_of(w.variant))}/{teacher_of(w.backbone)}/samples.jsonl",
        report=lambda w: f"results/{sample_folder(data_of(w.variant))}/{teacher_of(w.backbone)}/report.json",
        tokenizer=lambda w: f"results/backbones/{teacher_of(w.backbone)}/judge.json",
        pool=lambda w: f"results/{TRAINING_DATA[data_of(w.variant)]}/pool.jsonl",
        curate=lambda w: f"results/{TRAINING_DATA[data_of(w.variant)]}/manifest.json",
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
