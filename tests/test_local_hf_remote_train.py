"""The HF Jobs `sdk` backend's entry point, run here with the real local provider on `tiny`.

Inside an HF Job, ``remote_train`` trains with the local provider and pushes the adapter folder
to the Hub; here the Hub is a recorder, so the train -> metrics -> push path runs for real.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import FAST, make_home  # noqa: E402

from finetune_sdk.providers.huggingface import remote_train  # noqa: E402

pytestmark = pytest.mark.slow


class RecordingHub:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))


def test_remote_train_trains_locally_and_pushes_the_adapter(tmp_path, monkeypatch, capsys):
    home = make_home(tmp_path / "home")
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(home))
    hub = RecordingHub()
    code = remote_train.main(["--base-model", "tiny", "--train", str(home / "train.jsonl"),
                              "--output-repo", "me/tuned", "--hyperparameters",
                              json.dumps(FAST)], hub=hub)
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    assert printed and printed[-1]["loss"] < printed[0]["loss"]
    assert [name for name, _ in hub.calls] == ["create_repo", "upload_folder"]
    folder = hub.calls[1][1]["folder_path"]
    assert hub.calls[1][1]["repo_id"] == "me/tuned"
    assert (tmp_path / "home" / "local" / "jobs").exists() and folder.endswith("/output")
