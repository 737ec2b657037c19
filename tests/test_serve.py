"""``finetune serve`` answers the official openai client with the tiny local model: plain and
streaming (the same text either way), /v1/models, an API key when asked for, OpenAI-shaped
errors; Ctrl-C (SIGINT) stops the process cleanly with exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
openai = pytest.importorskip("openai")

QUESTION = [{"role": "user", "content": "How much water should I drink?"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from finetune_sdk.local.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny"))


@pytest.fixture
def served(tiny):
    """An in-process server on a free port (key required), and its base URL."""
    from finetune_sdk.serve import make_server

    server, chat = make_server(tiny, name="tiny-coach", port=0, api_key="serve-key-123",
                               default_max_tokens=12)
    chat.load()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_plain_and_streaming_give_the_same_answer(served) -> None:
    client = openai.OpenAI(base_url=served, api_key="serve-key-123", max_retries=0)
    plain = client.chat.completions.create(model="tiny-coach", messages=QUESTION, max_tokens=12)
    text = plain.choices[0].message.content
    assert text and plain.model == "tiny-coach" and plain.choices[0].finish_reason == "length"
    assert plain.usage.completion_tokens == 12 and plain.usage.prompt_tokens > 0
    chunks = list(client.chat.completions.create(
        model="tiny-coach", messages=QUESTION, max_tokens=12, stream=True,
        stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and
              c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == text  # token by token, same greedy text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 12
    assert [m.id for m in client.models.list()] == ["tiny-coach"]


def test_seeded_sampling_repeats_and_errors_are_openai_shaped(served) -> None:
    client = openai.OpenAI(base_url=served, api_key="serve-key-123", max_retries=0)
    ask = dict(model="x", messages=QUESTION, max_tokens=8, temperature=0.9, seed=3)
    first = client.chat.completions.create(**ask).choices[0].message.content
    assert client.chat.completions.create(**ask).choices[0].message.content == first
    with pytest.raises(openai.BadRequestError, match="top_p is not supported"):
        client.chat.completions.create(model="x", messages=QUESTION, top_p=0.5)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="x", messages=[], stream=True)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served, api_key="wrong", max_retries=0).models.list()


def test_finetune_serve_answers_and_stops_on_ctrl_c(tmp_path, tiny) -> None:
    env = {**os.environ, "FINETUNE_SDK_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from finetune_sdk.cli import main; main()", "serve", tiny,
         "--port", "0", "--name", "coach", "--max-tokens", "8"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("serving coach on http://127.0.0.1:"), (
            line + process.stderr.read())
        url = line.split(" on ", 1)[1].strip()
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model="coach", messages=QUESTION)
        assert answer.choices[0].message.content
        streamed = client.chat.completions.create(model="coach", messages=QUESTION, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == (
            answer.choices[0].message.content)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out.rstrip().endswith("stopped") and "Traceback" not in err
    assert "POST /v1/chat/completions" in err  # the request log


def test_a_hosted_model_is_pointed_at_deploy(tmp_path) -> None:
    env = {**os.environ, "FINETUNE_SDK_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", "from finetune_sdk.cli import main; main()",
                           "serve", "ft:gpt-4.1-mini:acme::x"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "finetune deploy" in done.stderr
