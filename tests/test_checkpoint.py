import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import tiny
from companion.errors import ModelLoadError
from companion.model import TribalTransformer
from companion.model.checkpoint import MANIFEST, load_checkpoint, save_checkpoint, sha256_file


@pytest.fixture()
def folder(tmp_path, random_model_dir):
    dest = tmp_path / "model"
    shutil.copytree(random_model_dir, dest)
    return dest


def rehash(folder):
    """Make the manifest agree with the files again (a consistent but wrong folder)."""
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, entry in manifest["files"].items():
        entry["sha256"] = sha256_file(folder / name)
        entry["bytes"] = (folder / name).stat().st_size
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_round_trip_is_bit_exact(tmp_path, tokenizer):
    torch.manual_seed(3)
    model = TribalTransformer(tiny.tiny_config(tokenizer))
    save_checkpoint(model, tokenizer, tmp_path / "m", metadata={"note": "ș 😊"})
    ckpt = load_checkpoint(tmp_path / "m")
    assert ckpt.config == model.config
    assert ckpt.metadata == {"note": "ș 😊"}
    assert ckpt.tokenizer.model_proto == tokenizer.model_proto
    saved, loaded = model.state_dict(), ckpt.model.state_dict()
    assert saved.keys() == loaded.keys()
    for key in saved:
        assert torch.equal(saved[key], loaded[key]), key
    assert not ckpt.model.training
    assert not list(tmp_path.glob("m/*.partial"))


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="model folder .*nowhere not found"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.model", "manifest.json"])
def test_missing_file_is_named(folder, name):
    (folder / name).unlink()
    with pytest.raises(ModelLoadError, match=f"{name} is missing"):
        load_checkpoint(folder)


def test_truncated_weights(folder):
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ModelLoadError, match=r"model.safetensors is truncated \(\d+ of \d+ bytes\)"):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.model", "config.json"])
def test_tampered_file_fails_its_checksum(folder, name):
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit, same size
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=f"{name} was changed after the model was saved"):
        load_checkpoint(folder)


def test_corrupt_manifest(folder):
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(ModelLoadError, match="manifest.json is not valid JSON"):
        load_checkpoint(folder)


def test_config_that_does_not_match_the_weights(folder):
    config = json.loads((folder / "config.json").read_text())
    config["model"]["dim"] = 128
    config["model"]["tribe_dim"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    rehash(folder)
    with pytest.raises(ModelLoadError, match="model.safetensors does not match .*config.json: .*shape"):
        load_checkpoint(folder)


def test_tokenizer_from_another_model(folder):
    other = tiny.train_tokenizer(vocab_size=400)
    other.save(folder / "tokenizer.model")
    rehash(folder)
    with pytest.raises(ModelLoadError, match="tokenizer.model has 400 pieces but .*vocab_size=512"):
        load_checkpoint(folder)


def test_invalid_config_values(folder):
    config = json.loads((folder / "config.json").read_text())
    config["model"]["n_heads"] = 5
    (folder / "config.json").write_text(json.dumps(config))
    rehash(folder)
    with pytest.raises(ModelLoadError, match="config.json: invalid model config: dim=64 is not divisible"):
        load_checkpoint(folder)


def test_weights_missing_a_tensor(folder):
    state = load_file(str(folder / "model.safetensors"))
    state.pop("norm.weight")
    save_file(state, str(folder / "model.safetensors"))
    rehash(folder)
    with pytest.raises(ModelLoadError, match=r"missing tensors \['norm.weight'\]"):
        load_checkpoint(folder)


def test_a_pickle_in_place_of_safetensors_is_never_unpickled(folder, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (marker.touch, ())

    torch.save({"x": Evil()}, folder / "model.safetensors")
    rehash(folder)
    with pytest.raises(ModelLoadError, match="model.safetensors is not a readable safetensors file"):
        load_checkpoint(folder)
    assert not marker.exists()


def test_interrupted_save_leaves_no_manifest(tmp_path, tokenizer, monkeypatch):
    import companion.model.checkpoint as ck

    model = TribalTransformer(tiny.tiny_config(tokenizer))

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ck, "_write_atomic", fail)  # simulates the disk filling up mid-save
    with pytest.raises(ck.CompanionError, match="No space left on device"):
        save_checkpoint(model, tokenizer, tmp_path / "m")
    with pytest.raises(ModelLoadError, match="manifest.json is missing .*interrupted save"):
        load_checkpoint(tmp_path / "m")
