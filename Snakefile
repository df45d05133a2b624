# flexjudge: text-only judge rationales → a multimodal judge, evaluated and put on a leaderboard.
# Table of contents only: the grid is in workflow/config.yaml, the rules in workflow/rules/.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "workflow/config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/provision.smk"
include: "workflow/rules/curate.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/twin.smk"
include: "workflow/rules/minis.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/retention.smk"
include: "workflow/rules/leaderboard.smk"
include: "workflow/rules/effect.smk"
include: "workflow/rules/molecules.smk"


rule all:
    input:
        final_targets(),
    default_target: True
