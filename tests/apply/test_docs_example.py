"""The Python example in docs/judge.md runs as written, on the embedded default."""

from __future__ import annotations

import re

import pytest

from flexjudge import REPO_ROOT


@pytest.mark.slow
def test_the_python_api_example_in_docs_judge_md_runs(tmp_path, monkeypatch, capsys):
    text = (REPO_ROOT / "docs" / "judge.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/judge.md", "exec"), {"__name__": "docs_example"})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and printed[0].split()[0] in ("A", "B", "tie", "None")
