# The paper's molecular application (workflow config `molecules`, off when absent; `make molecules`):
# a policy's answers on a molecule task, scored by judges (the FLEX judge imported into a molecular LLM, and
# the oracle / random controls), best-of-N curves, judge-built preference pairs, DPO of the policy on each
# judge's pairs, and the policy's accuracy before and after. Paths: results/molecules/<task>/...


rule moldata:
    """A molecule task's labelled molecules, split into train (DPO prompts) and test (accuracy, best-of-N)."""
    input:
        conf=lambda w: stage_conf("moldata", moltask=w.task),
    output:
        train="results/molecules/{task}/data/train.csv",
        test="results/molecules/{task}/data/test.csv",
    log:
        "results/logs/molecules/{task}/moldata.log",
    params:
        settings=job_settings("moldata"),
        args=lambda w, threads: hydra_args(threads, "moldata", f"results/molecules/{w.task}/data", moltask=w.task),
    shell:
        "{PYTHON} -m flexjudge.moldata {params.args} 2>&1 | tee {log}"


rule import_judge:
    """The FLEX judge's fine-tuned LLM moved into the molecular LLM (its encoders, Q-Former, LoRA and added
    token rows kept): the FLEX-Mol judge."""
    input:
        source=lambda w: f"results/finetune/{mol_conf()['source_judge']}/{w.variant}/judge.json",
        base="results/backbones/{molbackbone}/judge.json",
        conf=stage_conf("import_judge"),
    output:
        manifest="results/molecules/judges/{molbackbone}/{variant}/judge.json",
    log:
        "results/logs/molecules/import_judge/{molbackbone}/{variant}.log",
    params:
        settings=job_settings("import_judge"),
        args=lambda w, input, threads: hydra_args(threads, 
            "import_judge", f"results/molecules/judges/{w.molbackbone}/{w.variant}", source=input.source, base=input.base
        ),
    wildcard_constraints:
        variant=FLEX_VARIANT,
    threads: config["threads"]
    shell:
        "{PYTHON} -m flexjudge.import_judge {params.args} 2>&1 | tee {log}"


rule policy_answers:
    """A policy's answers: greedy or `candidates` samples on the test molecules, or one sample at each pair
    temperature on the train molecules (DPO pairs)."""
    input:
        policy=lambda w: policy_manifest(w.task, w.policy),
        molecules=lambda w: f"results/molecules/{w.task}/data/{DRAWS[w.draw]['split']}.csv",
        conf=lambda w: stage_conf("policy", moltask=w.task),
    output:
        answers="results/molecules/{task}/policy/{policy}/{draw}/answers.jsonl",
        report="results/molecules/{task}/policy/{policy}/{draw}/report.json",
    log:
        "results/logs/molecules/{task}/policy/{policy}/{draw}.log",
    params:
        settings=lambda w: job_settings("policy", **draw_settings(w.draw), prompt_type=mol_conf()["prompt_type"]),
        args=lambda w, input, threads: hydra_args(threads, 
            "policy",
            f"results/molecules/{w.task}/policy/{w.policy}/{w.draw}",
            moltask=w.task,
            policy=input.policy,
            molecules=input.molecules,
            prompt_type=mol_conf()["prompt_type"],
            cache=f"results/cache/policy-{w.task}-{w.policy}.sqlite",
            **draw_settings(w.draw),
        ),
    wildcard_constraints:
        draw="greedy|candidates|pair_low|pair_high",
    threads: config["threads"]
    shell:
        "{PYTHON} -m flexjudge.policy {params.args} 2>&1 | tee {log}"


rule score_answers:
    """One judge's score (1.0-10.0) for each of the policy's candidate answers."""
    input:
        answers="results/molecules/{task}/policy/base/candidates/answers.jsonl",
        molecules="results/molecules/{task}/data/test.csv",
        judge=lambda w: mol_judge_manifest(w.judge),
        conf=lambda w: stage_conf("moljudge", moltask=w.task, backend=mol_judge_backend(w.judge)),
    output:
        scored="results/molecules/{task}/scored/{judge}/scored.jsonl",
        report="results/molecules/{task}/scored/{judge}/report.json",
    log:
        "results/logs/molecules/{task}/scored/{judge}.log",
    params:
        settings=lambda w: job_settings("moljudge", judge=w.judge),
        args=lambda w, input, threads: hydra_args(threads, 
            "moljudge",
            f"results/molecules/{w.task}/scored/{w.judge}",
            moltask=w.task,
            mode="score",
            answers=input.answers,
            molecules=input.molecules,
            cache=f"results/cache/moljudge-{w.judge}.sqlite",
            **mol_judge_args(w.judge, input.judge),
        ),
    threads: config["threads"]
    shell:
        "{PYTHON} -m flexjudge.moljudge {params.args} 2>&1 | tee {log}"


rule judge_pairs:
    """One judge's preference pairs: the two pair-temperature answers per train molecule compared in both
    orders; kept when the same answer wins both times."""
    input:
        low="results/molecules/{task}/policy/base/pair_low/answers.jsonl",
        high="results/molecules/{task}/policy/base/pair_high/answers.jsonl",
        molecules="results/molecules/{task}/data/train.csv",
        judge=lambda w: mol_judge_manifest(w.judge),
        conf=lambda w: stage_conf("moljudge", moltask=w.task, backend=mol_judge_backend(w.judge)),
    output:
        pairs="results/molecules/{task}/pairs/{judge}/pairs.jsonl",
        report="results/molecules/{task}/pairs/{judge}/report.json",
    log:
        "results/logs/molecules/{task}/pairs/{judge}.log",
    params:
        settings=lambda w: job_settings("moljudge", judge=w.judge),
        args=lambda w, input, threads: hydra_args(threads, 
            "moljudge",
            f"results/molecules/{w.task}/pairs/{w.judge}",
            moltask=w.task,
            mode="pairs",
            pair_answers=f"[{input.low},{input.high}]",
            molecules=input.molecules,
            cache=f"results/cache/moljudge-{w.judge}.sqlite",
            **mol_judge_args(w.judge, input.judge),
        ),
    threads: config["threads"]
    shell:
        "{PYTHON} -m flexjudge.moljudge {params.args} 2>&1 | tee {log}"


rule bestofn:
    """Best-of-N curves of every judge over the policy's candidate sets, with the random-pick and oracle lines."""
    input:
        scored=lambda w: [f"results/molecules/{w.task}/scored/{j}/scored.jsonl" for j in mol_conf()["judges"]],
        conf=stage_conf("bestofn"),
    output:
        json="results/molecules/{task}/bestofn/curve.json",
        md="results/molecules/{task}/bestofn/curve.md",
        png="results/molecules/{task}/bestofn/curve.png",
    log:
        "results/logs/molecules/{task}/bestofn.log",
    params:
        settings=lambda w: job_settings("bestofn", ns=mol_conf()["ns"], trials=mol_conf()["trials"]),
        args=lambda w, input, threads: hydra_args(threads, 
            "bestofn",
            f"results/molecules/{w.task}/bestofn",
            scored=judge_paths(mol_conf()["judges"], input.scored),
            ns="[" + ",".join(str(n) for n in mol_conf()["ns"]) + "]",
            trials=mol_conf()["trials"],
            title=f"{w.task} - policy {mol_conf()['policy']} - prompt {mol_conf()['prompt_type']}",
        ),
    shell:
        "{PYTHON} -m flexjudge.bestofn {params.args} 2>&1 | tee {log}"


rule dpo:
    """The policy trained by DPO on one judge's preference pairs (reference: its frozen copy)."""
    input:
        pairs="results/molecules/{task}/pairs/{judge}/pairs.jsonl",
        policy=lambda w: policy_manifest(w.task, "base"),
        conf=stage_conf("dpo"),
    output:
        manifest="results/molecules/{task}/dpo/{judge}/judge.json",
    log:
        "results/logs/molecules/{task}/dpo/{judge}.log",
    params:
        settings=job_settings("dpo"),
        args=lambda w, input, threads: hydra_args(threads, 
            "dpo", f"results/molecules/{w.task}/dpo/{w.judge}", pairs=input.pairs, policy=input.policy
        ),
    threads: job_threads("finetune")
    shell:
        "{PYTHON} -m flexjudge.dpo {params.args} 2>&1 | tee {log}"


rule molreport:
    """The molecular application's summary: the policy's accuracy before and after DPO with each judge, greedy
    and over its N sampled answers (CIs, paired differences), the best-of-N table, and the paper's numbers beside them."""
    input:
        before=lambda w: f"results/molecules/{w.task}/policy/base/greedy/answers.jsonl",
        after=lambda w: [f"results/molecules/{w.task}/policy/dpo_{j}/greedy/answers.jsonl" for j in mol_conf()["dpo_judges"]],
        before_sampled=lambda w: f"results/molecules/{w.task}/policy/base/candidates/answers.jsonl",
        after_sampled=lambda w: [f"results/molecules/{w.task}/policy/dpo_{j}/candidates/answers.jsonl" for j in mol_conf()["dpo_judges"]],
        pairs=lambda w: [f"results/molecules/{w.task}/pairs/{j}/report.json" for j in mol_conf()["dpo_judges"]],
        curve="results/molecules/{task}/bestofn/curve.json",
        conf=stage_conf("molreport"),
    output:
        json="results/molecules/{task}/summary.json",
        md="results/molecules/{task}/summary.md",
        png="results/molecules/{task}/summary.png",
    log:
        "results/logs/molecules/{task}/molreport.log",
    params:
        settings=job_settings("molreport"),
        args=lambda w, input, threads: hydra_args(threads, 
            "molreport",
            f"results/molecules/{w.task}",
            task=w.task,
            before=input.before,
            after=judge_paths(mol_conf()["dpo_judges"], input.after),
            before_sampled=input.before_sampled,
            after_sampled=judge_paths(mol_conf()["dpo_judges"], input.after_sampled),
            pairs=judge_paths(mol_conf()["dpo_judges"], input.pairs),
            curve=input.curve,
        ),
    shell:
        "{PYTHON} -m flexjudge.molreport {params.args} 2>&1 | tee {log}"
