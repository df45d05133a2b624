"""The requests backend=openai sends, checked at the HTTP boundary with a recording client: media as chat
content parts, one request per vote with its own seed, and the continuation modes' request shapes."""

from __future__ import annotations

import base64
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

from flexjudge.backbones.inputs import MediaSettings
from flexjudge.generate.budget import Budget
from flexjudge.generate.engine import Request, SamplingParams
from flexjudge.generate.openai_backend import OpenAIEngine, request_prompt


class Recorder:
    """Stands in for the OpenAI client: records each call's arguments and answers with a fixed text."""

    def __init__(self, text="<think>ok</think><answer>7</answer>"):
        self.calls, self.text = [], text
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))
        self.completions = SimpleNamespace(create=self._create)

    def _create(self, **kwargs):
        self.calls.append(kwargs)
        message = SimpleNamespace(content=self.text)
        choice = SimpleNamespace(message=message, text=self.text, finish_reason="stop")
        return SimpleNamespace(choices=[choice], usage=SimpleNamespace(completion_tokens=9))


def test_media_go_as_content_parts_and_each_vote_is_one_seeded_request(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "x.png")
    wavfile.write(tmp_path / "x.wav", 16000, np.zeros(800, dtype=np.int16))
    content = [
        {"type": "image", "path": str(tmp_path / "x.png")},
        {"type": "audio", "path": str(tmp_path / "x.wav")},
        {"type": "text", "text": "Rate it."},
    ]
    messages = [{"role": "system", "content": "You judge."}, {"role": "user", "content": content}]
    client = Recorder()
    engine = OpenAIEngine("judge", client=client, media_settings=MediaSettings(), concurrency=2)
    request = Request(request_prompt(messages, ""), "k1", votes=(0, 1, 2))
    gens = engine.generate([request], SamplingParams(max_new_tokens=32, temperature=0.6, n=3), progress=False)
    assert len(client.calls) == 3 and len({c["seed"] for c in client.calls}) == 3
    assert all(c["n"] == 1 and c["temperature"] == 0.6 and c["max_tokens"] == 32 for c in client.calls)
    parts = client.calls[0]["messages"][1]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    audio = base64.b64decode(parts[1]["input_audio"]["data"])
    assert parts[1]["input_audio"]["format"] == "wav" and wavfile.read(io.BytesIO(audio))[0] == 16000
    assert parts[2] == {"type": "text", "text": "Rate it."}
    assert [g.n_tokens for g in gens[0]] == [9, 9, 9] and gens[0][0].text.endswith("<answer>7</answer>")


def test_the_continuation_modes_send_what_each_server_understands():
    messages = [{"role": "user", "content": "Rate it."}]
    params = SamplingParams(max_new_tokens=16)
    vllm = Recorder()
    OpenAIEngine("j", client=vllm, continuation="vllm").generate(
        [Request(request_prompt(messages, "<think>\n"), "k", think_open=True)], params, progress=False
    )
    sent = vllm.calls[0]
    assert sent["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert sent["extra_body"]["continue_final_message"] and not sent["extra_body"]["add_generation_prompt"]
    text = Recorder()
    OpenAIEngine("j", client=text, continuation="completions").generate(
        [Request("<|user|>Rate it.<|assistant|><think>\n", "k", think_open=True)], params, progress=False
    )
    assert (
        text.calls[0]["prompt"] == "<|user|>Rate it.<|assistant|><think>\n"
        and "extra_body" not in text.calls[0]
    )
    with pytest.raises(NotImplementedError, match="cannot open the answer inside <think>"):
        OpenAIEngine("j", client=Recorder()).generate(
            [Request(request_prompt(messages, "<think>\n"), "k", think_open=True)], params, progress=False
        )
    with pytest.raises(NotImplementedError, match="cannot force a thinking budget"):
        OpenAIEngine("j", client=Recorder(), budget=Budget(max_think_tokens=8))


def test_a_hosted_api_without_its_key_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("FLEXJUDGE_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match=r"\$FLEXJUDGE_TEST_KEY, which is not set"):
        OpenAIEngine("gpt-4o", api_key_env="FLEXJUDGE_TEST_KEY")
    assert json.loads(request_prompt([{"role": "user", "content": "x"}], "")) == {
        "messages": [{"role": "user", "content": "x"}],
        "assistant": "",
    }
