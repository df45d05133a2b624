rule curate:
    """Read the text pool; filter, deduplicate, decontaminate against the benchmarks; split off a held-out set."""
    input:
        data=pool_path(),
        benchmarks=decontamination_inputs(),
        conf=stage_conf("curate"),
    output:
        pool="results/curate/pool.jsonl",
        heldout="results/curate/heldout.jsonl",
        manifest="results/curate/manifest.json",
    log:
        "results/logs/curate.log",
    params:
        settings=job_settings("curate", benchmarks=benchmark_root()),
        args=lambda w, input, threads: hydra_args(threads, 
            "curate", "results/curate", **{"pool.path": input.data, "paths.benchmarks": benchmark_root()}
        ),
    priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
    shell:
        "{PYTHON} -m flexjudge.curate {params.args} 2>&1 | tee {log}"
