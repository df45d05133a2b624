rule leaderboard:
    """Tables and a plot rebuilt from every metrics.json under results/eval."""
    input:
        metrics=eval_metrics(),
        conf=stage_conf("leaderboard"),
    output:
        csv="results/leaderboard/leaderboard.csv",
        md="results/leaderboard/leaderboard.md",
        png="results/leaderboard/leaderboard.png",
    log:
        "results/logs/leaderboard.log",
    params:
        settings=job_settings("leaderboard"),
        args=hydra_args("leaderboard", "results/leaderboard"),
    shell:
        "{PYTHON} -m flexjudge.leaderboard {params.args} 2>&1 | tee {log}"
