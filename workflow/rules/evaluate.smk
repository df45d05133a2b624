rule evaluate:
    """One judge on one benchmark with k votes under one thinking budget."""
    input:
        judge=lambda w: judge_manifest(w.backbone, w.variant),
        data=lambda w: benchmark_input(w.benchmark),
        conf=lambda w: stage_conf(
            "evaluate", backbone=w.backbone, benchmark=w.benchmark, voting=w.voting, budget=w.budget
        ),
    output:
        metrics="results/eval/{backbone}/{variant}/{benchmark}/{voting}/{budget}/metrics.json",
        predictions="results/eval/{backbone}/{variant}/{benchmark}/{voting}/{budget}/predictions.jsonl",
    log:
        "results/logs/evaluate/{backbone}/{variant}/{benchmark}/{voting}/{budget}.log",
    params:
        args=lambda w, input, output: hydra_args(
            "evaluate",
            str(Path(output.metrics).parent),
            backbone=w.backbone,
            variant=w.variant,
            benchmark=w.benchmark,
            voting=w.voting,
            budget=w.budget,
            judge=input.judge,
            **{"paths.benchmarks": benchmark_root()},
            **suite_overrides(w.benchmark),
        ),
    threads: job_threads("evaluate")
    wildcard_constraints:
        variant=f"base|{FLEX_VARIANT}",
    shell:
        "{PYTHON} -m flexjudge.evaluate {params.args} 2>&1 | tee {log}"
