# One job per judge and eval group (workflow/config.yaml: the grid, and the suite split by suite_groups):
# the judge is loaded once for the whole group, and every evaluation still writes its own folder.
# A changed benchmark (its registry entry or `benchmark_overrides`: the `benchmarks` param), voting or
# budget conf reruns its group; the per-vote cache makes the unchanged members of a rerun group cheap
# (their votes come from the cache).
for _group in eval_groups():

    rule:
        name:
            f"evaluate_{_group}"
        input:
            judge=lambda w: judge_manifest(w.backbone, w.variant),
            data=lambda w, group=_group: sorted({d for b in group_benchmarks(group) for d in [benchmark_input(b)] if d}),
            conf=lambda w, group=_group: stage_conf("evaluate", backbone=w.backbone)
            + sorted(
                {
                    conf_file(kind, name)
                    for member in eval_groups()[group]
                    for kind, name in zip(("voting", "budget"), member[1:])
                }
            ),
        output:
            metrics=[
                f"results/eval/{{backbone}}/{{variant}}/{b}/{v}/{g}/metrics.json" for b, v, g in eval_groups()[_group]
            ],
            predictions=[
                f"results/eval/{{backbone}}/{{variant}}/{b}/{v}/{g}/predictions.jsonl"
                for b, v, g in eval_groups()[_group]
            ],
            summary=f"results/eval_groups/{{backbone}}/{{variant}}/{_group}/group.json",
        log:
            f"results/logs/evaluate/{{backbone}}/{{variant}}/{_group}.log",
        params:
            benchmarks=lambda w, group=_group: [benchmark_node(b) for b in group_benchmarks(group)],
            settings=lambda w, group=_group: job_settings(
                "evaluate", w.variant, benchmarks=benchmark_root(), **group_overrides(group)
            ),
            args=lambda w, input, output, threads, group=_group: hydra_args(threads, 
                "evaluate",
                str(Path(output.summary).parent),
                recipe=w.variant,
                backbone=w.backbone,
                variant=w.variant,
                judge=input.judge,
                evaluations="[" + ",".join(group_evaluations(group)) + "]",
                **{"paths.benchmarks": benchmark_root()},
                **group_overrides(group),
            ),
        threads: job_threads("evaluate")
        priority: group_priority(_group)
        wildcard_constraints:
            # a group's own judges: the baseline groups' outputs share the folder layout of the others
            backbone="|".join(re.escape(j) for j in group_judges(_group)),
            variant="base" if baseline_of(_group) else f"base|{FLEX_VARIANT}",
        shell:
            "{PYTHON} -m flexjudge.evaluate {params.args} 2>&1 | tee {log}"
