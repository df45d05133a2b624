# Figures of the HTML report; each is also in Snakemake's own report (`snakemake --report report.html`).
LEADERBOARD_FIGURES = {
    "png": "leaderboard.png",
    "votes": "votes.png",
    "budget": "budget.png",
    "position_bias": "position_bias.png",
    "scores": "scores.png",
    "stability": "stability.png",
}


rule leaderboard:
    """Tables, plots and the HTML report (index.html, items/, media/) rebuilt from every evaluation under
    results/eval; `make report` runs the same command."""
    input:
        metrics=eval_metrics(),
        predictions=[m.replace("metrics.json", "predictions.jsonl") for m in eval_metrics()],
        molecules=[t for t in mol_targets() if t.endswith(".json")],
        retention=retention_metrics(),
        conf=stage_conf("leaderboard"),
    output:
        csv=report(
            "results/leaderboard/leaderboard.csv",
            caption="../report/leaderboard_table.rst",
            category="Leaderboard",
            labels={"file": "leaderboard.csv"},
        ),
        md="results/leaderboard/leaderboard.md",
        html="results/leaderboard/index.html",
        **{
            key: report(
                f"results/leaderboard/{name}",
                caption=f"../report/{Path(name).stem}.rst",
                category="Leaderboard",
                subcategory="Plots",
                labels={"figure": Path(name).stem},
            )
            for key, name in LEADERBOARD_FIGURES.items()
        },
    log:
        "results/logs/leaderboard.log",
    params:
        settings=job_settings("leaderboard"),
        args=lambda w, input, threads: hydra_args(threads, 
            "leaderboard",
            "results/leaderboard",
            molecules="[" + ",".join(input.molecules) + "]",
            retention="[" + ",".join(input.retention) + "]",
        ),
    shell:
        "{PYTHON} -m flexjudge.leaderboard {params.args} 2>&1 | tee {log}"
