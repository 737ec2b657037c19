"""A provider defined only in a test package, registered through the ``finetune_sdk.providers``
entry point, gets everything its profile names: ``finetune providers`` lists its capabilities,
``validate --provider`` applies its rule pack (methods and file limit from its capabilities),
``convert --to`` writes its wire format, ``chat`` answers through its inference module, and a
job id of its shape is told from a model id. Each step runs the real CLI in a subprocess that
finds the package only through ``sys.path`` and its dist-info, as an installed plug-in would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROVIDER = '''
from typing import ClassVar

from finetune_sdk.profiles import ProviderProfile
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.types import Capabilities


class AcmeProvider(FakeProvider):
    """Trains nothing: only its profile matters here."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        methods={"sft"}, hosted=True, max_upload_bytes=4000)
    provider_profile: ClassVar[ProviderProfile] = ProviderProfile(
        "ignored", "ignored:Ignored", display_name="Acme", wire="acme_ft.wire",
        inference="acme_ft.chat", job_id_shape=r"acme-job-[0-9]+", model_prefixes=("acme:",))
'''
WIRE = '''
from finetune_sdk.data.convert import stream_wire
from finetune_sdk.data.rules import RulePack

RULES = RulePack(provider="acme", min_examples=2, methods=frozenset({"sft", "dpo"}))


def to_wire(example, *, method="sft"):
    return {"turns": [[m["role"][0], m["content"]] for m in example["messages"]]}


def write_wire_jsonl(src, dst, *, method="sft"):
    return stream_wire(src, dst, to_wire, method=method, rules=RULES)
'''
CHAT = '''
def chat(ref, messages, **params):
    return f"acme {ref.id} heard: {messages[-1]['content']}"
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    package = root / "acme_ft"
    package.mkdir()
    (package / "__init__.py").write_text('"""A third-party finetune_sdk provider."""\n')
    (package / "provider.py").write_text(textwrap.dedent(PROVIDER))
    (package / "wire.py").write_text(textwrap.dedent(WIRE))
    (package / "chat.py").write_text(textwrap.dedent(CHAT))
    dist = root / "acme_ft-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-ft\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[finetune_sdk.providers]\nacme = acme_ft.provider:AcmeProvider\n")
    return root


def _cli(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINETUNE_")}
    env.update(PYTHONPATH=str(site), FINETUNE_HOME=str(tmp_path / "home"), NO_COLOR="1",
               COLUMNS="200")
    code = "from finetune_sdk.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def _chats(path: Path, n: int) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_providers_lists_the_plugin_with_its_capabilities(plugin, tmp_path):
    done = _cli(plugin, tmp_path, "providers", "--json")
    assert done.returncode == 0, done.stderr
    acme = json.loads(done.stdout)["acme"]
    assert acme["installed"] and acme["methods"] == ["sft"] and acme["max_upload_bytes"] == 4000


def test_validate_applies_the_plugin_rules(plugin, tmp_path):
    one = _cli(plugin, tmp_path, "validate", str(_chats(tmp_path / "one.jsonl", 1)),
               "--provider", "acme")
    assert one.returncode != 0
    assert "at least 2" in one.stdout + one.stderr
    ok = _cli(plugin, tmp_path, "validate", str(_chats(tmp_path / "two.jsonl", 2)),
              "--provider", "acme")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # the file limit is the capabilities' max_upload_bytes, not the pack's (unset) one
    big = _cli(plugin, tmp_path, "validate", str(_chats(tmp_path / "big.jsonl", 80)),
               "--provider", "acme")
    assert big.returncode != 0 and "4,000" in big.stdout + big.stderr


def test_convert_writes_the_plugin_wire_format(plugin, tmp_path):
    out = tmp_path / "acme.jsonl"
    done = _cli(plugin, tmp_path, "convert", str(_chats(tmp_path / "in.jsonl", 2)),
                "--to", "acme", "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"turns": [["u", "q0"], ["a", "a0"]]}, {"turns": [["u", "q1"], ["a", "a1"]]}]


def test_chat_answers_through_the_plugin(plugin, tmp_path):
    named = _cli(plugin, tmp_path, "chat", "some-model", "-p", "acme", "-m", "hello")
    assert named.returncode == 0, named.stderr
    assert "acme some-model heard: hello" in named.stdout
    guessed = _cli(plugin, tmp_path, "chat", "acme:m1", "-m", "hi")  # its model prefix
    assert guessed.returncode == 0, guessed.stderr
    assert "acme acme:m1 heard: hi" in guessed.stdout


def test_the_profile_is_read_in_process(plugin, monkeypatch):
    from finetune_sdk import registry
    from finetune_sdk.inference import guess_provider, job_provider
    from finetune_sdk.profiles import profile_of

    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_resolved", set(registry._resolved))
    monkeypatch.setattr(registry, "_classes", dict(registry._classes))
    profile = profile_of("acme")
    assert (profile.name, profile.adapter) == ("acme", "acme_ft.provider:AcmeProvider")
    assert profile.rules().min_examples == 2 and profile.rules().methods == {"sft"}
    assert job_provider("acme-job-17") == "acme" and guess_provider("acme:x") == "acme"
    assert job_provider("acme-job-x") is None
    assert profile.facts() is None  # no catalog shipped: preflight warns, never blocks
    openai = profile_of("openai").facts()
    assert openai is not None and openai.find("gpt-4.1-mini-2025-04-14") is not None


def test_a_class_registered_as_an_object_is_the_one_its_profile_reads(monkeypatch):
    # register_provider(name, cls) with a class no import path reaches (defined in a function)
    from finetune_sdk import registry
    from finetune_sdk.data.rules import rules_for
    from finetune_sdk.profiles import profile_of
    from finetune_sdk.providers.fake import FakeProvider
    from finetune_sdk.types import Capabilities

    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_resolved", set(registry._resolved))
    monkeypatch.setattr(registry, "_classes", dict(registry._classes))

    class Local(FakeProvider):
        capabilities = Capabilities(methods={"sft"}, max_upload_bytes=10)

    registry.register_provider("in-process", Local)
    assert profile_of("in-process").capabilities() is Local.capabilities
    rules = rules_for("in-process")
    assert rules.max_file_bytes == 10 and rules.methods == {"sft"}
