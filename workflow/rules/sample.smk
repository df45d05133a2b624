rule sample:
    """On-policy low-temperature judgements of the pool; keep those agreeing with gold (+ rationales)."""
    input:
        judge="results/backbones/{backbone}/judge.json",
        pool=rules.curate.output.pool,
        conf=lambda w: stage_conf("sample", backbone=w.backbone),
    output:
        sft="results/sample/{backbone}/sft.jsonl",
        samples="results/sample/{backbone}/samples.jsonl",
        report="results/sample/{backbone}/report.json",
    log:
        "results/logs/sample/{backbone}.log",
    params:
        args=lambda w, input: hydra_args(
            "sample", f"results/sample/{w.backbone}", backbone=w.backbone, judge=input.judge, pool=input.pool
        ),
    threads: config["threads"]
    shell:
        "{PYTHON} -m flexjudge.sample {params.args} 2>&1 | tee {log}"
