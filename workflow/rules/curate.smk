# One curate job per kind of training data (TRAINING_DATA): the text pool (rule curate, results/curate/) and,
# when a variant trains on it, RLHF-V's image-text pairs (rule curate_image, results/curate_image/).
for _data, _folder in TRAINING_DATA.items():

    rule:
        name:
            _folder
        input:
            data=lambda w, data=_data: training_pool(data),
            benchmarks=decontamination_inputs(),
            conf=stage_conf("curate"),
        output:
            pool=f"results/{_folder}/pool.jsonl",
            heldout=f"results/{_folder}/heldout.jsonl",
            manifest=f"results/{_folder}/manifest.json",
        log:
            f"results/logs/{_folder}.log",
        params:
            settings=job_settings("curate", DATA_RECIPES[_data], benchmarks=benchmark_root()),
            args=lambda w, input, threads, data=_data, folder=_folder: hydra_args(
                threads,
                "curate",
                f"results/{folder}",
                recipe=DATA_RECIPES[data],
                **{"pool.path": training_pool_file(data), "paths.benchmarks": benchmark_root()},
                **training_pool_license(data),
            ),
        priority: 10  # the path to the fine-tuned judge first; evaluations fill the other core
        shell:
            "{PYTHON} -m flexjudge.curate {params.args} 2>&1 | tee {log}"
