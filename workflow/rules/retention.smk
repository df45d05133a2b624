# VQA retention (the paper's Table 11): each judge answers TextVQA / OK-VQA questions, so the leaderboard shows
# whether fine-tuning the LLM cost the backbone its answering. Off unless the config lists `retention` datasets.


rule retention:
    """One judge's VQA soft accuracy on one retention dataset (greedy short answers, no reasoning)."""
    input:
        judge=lambda w: judge_manifest(w.backbone, w.variant),
        data=lambda w: retention_input(w.dataset),
        conf=stage_conf("retention"),
    output:
        metrics="results/retention/{backbone}/{variant}/{dataset}/metrics.json",
        predictions="results/retention/{backbone}/{variant}/{dataset}/predictions.jsonl",
    log:
        "results/logs/retention/{backbone}/{variant}/{dataset}.log",
    params:
        settings=lambda w: job_settings("retention", data=retention_data(w.dataset), **retention_extra()),
        args=lambda w, output, threads: hydra_args(
            threads,
            "retention",
            str(Path(output.metrics).parent),
            judge=judge_manifest(w.backbone, w.variant),
            variant=w.variant,
            dataset=w.dataset,
            data=retention_data(w.dataset),
            cache=f"results/cache/{w.backbone}-{w.variant}.sqlite",
            **retention_extra(),
        ),
    threads: job_threads("evaluate")
    wildcard_constraints:
        variant=f"base|{FLEX_VARIANT}",
    shell:
        "{PYTHON} -m flexjudge.retention {params.args} 2>&1 | tee {log}"
