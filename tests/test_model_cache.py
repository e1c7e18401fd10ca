"""The model cache (speechxai.model_cache): atomic, checked, locked, keyed by code."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import torch

from speechxai import model_cache
from speechxai.model_cache import (
    CorruptModel,
    ModelNotCached,
    cache_file,
    code_version,
    load,
    load_or_train,
    save,
)


def payload(value: float = 1.0) -> dict:
    return {"state": {"weight": torch.full((3,), value)}, "history": {"loss": [0.5]}}


def restore(saved: dict) -> torch.Tensor:
    return saved["state"]["weight"]


def test_a_saved_model_loads_back_and_leaves_no_temporary(tmp_path: Path):
    path = tmp_path / "m.pt"
    save(payload(2.0), path)
    assert torch.equal(load(path)["state"]["weight"], torch.full((3,), 2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda data: data[: len(data) // 2], "checksum mismatch"),
    (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "checksum mismatch"),
    (lambda data: data.split(b"\n", 1)[1], "not a speechxai model file"),
    (lambda data: b"", "not a speechxai model file"),
])
def test_a_truncated_flipped_or_foreign_file_is_refused_with_its_path(tmp_path, damage, reason):
    path = tmp_path / "m.pt"
    save(payload(), path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptModel, match=f"{path}: {reason}"):
        load(path)


def test_a_raw_torch_file_from_an_older_version_is_refused(tmp_path: Path):
    path = tmp_path / "m.pt"
    torch.save(payload(), path)
    with pytest.raises(CorruptModel, match="not a speechxai model file"):
        load(path)


def test_a_corrupt_file_is_reported_and_trained_again(tmp_path: Path, capsys):
    path = tmp_path / "m.pt"
    save(payload(1.0), path)
    path.write_bytes(path.read_bytes()[:-10])
    result = load_or_train(path, lambda resume: payload(3.0), restore)
    assert torch.equal(result, torch.full((3,), 3.0))
    assert f"model cache: {path} is unusable (checksum mismatch" in capsys.readouterr().out
    assert torch.equal(load(path)["state"]["weight"], torch.full((3,), 3.0))


def test_weights_of_another_network_are_trained_again(tmp_path: Path, capsys):
    path = tmp_path / "m.pt"
    save(payload(), path)
    network = torch.nn.Linear(4, 2)

    def restore_network(saved):
        network.load_state_dict(saved["state"])
        return network

    trained = {"state": torch.nn.Linear(4, 2).state_dict()}
    assert load_or_train(path, lambda resume: trained, restore_network) is network
    assert "does not fit the model" in capsys.readouterr().out


def test_cached_only_never_trains_and_names_the_file_and_the_problem(tmp_path: Path):
    path = tmp_path / "m.pt"
    with pytest.raises(ModelNotCached, match=f"no cached model {path}: run `make it`"):
        load_or_train(path, pytest.fail, restore, cached_only=True, command="make it")
    path.write_bytes(b"garbage")
    with pytest.raises(ModelNotCached, match="is unusable .*not a speechxai model file"):
        load_or_train(path, pytest.fail, restore, cached_only=True)


def test_retrain_trains_whatever_is_cached(tmp_path: Path, monkeypatch):
    path = tmp_path / "m.pt"
    save(payload(1.0), path)
    monkeypatch.setenv(model_cache.RETRAIN_ENV, "1")
    retrained = load_or_train(path, lambda resume: payload(5.0), restore)
    assert torch.equal(retrained, torch.full((3,), 5.0))
    monkeypatch.setenv(model_cache.RETRAIN_ENV, "0")
    assert torch.equal(load_or_train(path, pytest.fail, restore), torch.full((3,), 5.0))


def _train_once(path: str, log: str) -> None:
    def train(resume):
        with open(log, "a") as file:
            file.write("trained\n")
        time.sleep(0.5)
        return payload(7.0)

    load_or_train(Path(path), train, restore)


def test_concurrent_writers_train_once_and_both_get_the_model(tmp_path: Path):
    path, log = tmp_path / "m.pt", tmp_path / "log"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_train_once, args=(str(path), str(log))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert log.read_text() == "trained\n"
    assert torch.equal(load(path)["state"]["weight"], torch.full((3,), 7.0))
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".partial"]


def test_concurrent_saves_of_one_file_never_collide(tmp_path: Path):
    path = tmp_path / "m.pt"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=save, args=(payload(float(k)), path)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert float(load(path)["state"]["weight"][0]) in {0.0, 1.0, 2.0, 3.0}


def _module(folder: Path, name: str, source: str):
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_code_version_follows_code_and_numbers_not_text(tmp_path: Path):
    base = 'def f(x):\n    """One doc."""\n    if x is None:\n        raise ValueError("one")\n' \
           '    return x * 2  # a comment\n'
    reworded = base.replace("One doc.", "Other doc.").replace('"one"', '"two"').replace(
        "  # a comment", "")
    changed = base.replace("x * 2", "x * 3")
    versions = [code_version(_module(tmp_path, f"m{k}", source))
                for k, source in enumerate((base, reworded, changed))]
    assert versions[0] == versions[1] != versions[2]


def test_cache_files_are_named_by_their_key(tmp_path: Path):
    first = cache_file(tmp_path, "alexnet-digit", "config", "data", "code1")
    assert first.parent == tmp_path and first.name.startswith("alexnet-digit-")
    assert first != cache_file(tmp_path, "alexnet-digit", "config", "data", "code2")
    assert os.path.basename(first).endswith(".pt")
