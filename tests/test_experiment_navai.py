"""The NAvAI chapter's protocol (speechxai.experiments.navai): cached log-mels, silence
padding and output-length bookkeeping, seeded and cached CTC training of a tiny Wav2Letter
on toy tones, error rates and padding-free letter windows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from oracles import bn_rule_direct
from test_ctc_training import RATE, Item, toy_items
from torch import nn

import speechxai.device
import speechxai.training
from speechxai.attribution.navai import LETTERS, lrp_bn_rule
from speechxai.ctc import ALPHABET
from speechxai.experiments.navai import (
    Wav2LetterConfig,
    analysis_windows,
    evaluate_wav2letter,
    padded_batch,
    train_wav2letter,
    utterance_log_mel,
)
from speechxai.features import log_mel
from speechxai.models.wav2letter import Wav2Letter, receptive_field

CONFIG = Wav2LetterConfig(channels=(8, 8), kernels=(5, 5), strides=(1, 1), steps=30,
                          batch_size=4, learning_rate=1e-2, cosine=False)


def test_log_mels_are_cached_by_content():
    item = toy_items()[2]
    torch.testing.assert_close(utterance_log_mel(item), log_mel(item.waveform, RATE),
                               rtol=0, atol=0)
    assert utterance_log_mel(item) is utterance_log_mel(Item(item.waveform.clone(), RATE, "x"))


def test_config_padding_key_and_validation():
    assert CONFIG.receptive_field == receptive_field(CONFIG.build()) == 9
    assert CONFIG.padding == 4 and replace(CONFIG, pad=0).padding == 0
    strided = replace(CONFIG, strides=(2, 1))
    assert strided.receptive_field == receptive_field(strided.build()) == 13
    assert CONFIG.key() == replace(CONFIG).key() != replace(CONFIG, pad=4).key()
    with pytest.raises(ValueError, match="one entry per hidden layer"):
        Wav2LetterConfig(channels=(8,), kernels=(5, 5), strides=(1, 1))
    with pytest.raises(ValueError, match="pad"):
        replace(CONFIG, pad=-1)
    assert replace(CONFIG, spec_augment=[3, 2]).spec_augment == (3, 2)
    assert replace(CONFIG, spec_augment=(3, 2)).key() != CONFIG.key()
    with pytest.raises(ValueError, match="spec_augment"):
        replace(CONFIG, spec_augment=(3, -1))


def test_spec_augmented_training_differs_from_plain_training(tmp_path):
    config = replace(CONFIG, steps=3)
    plain = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path)
    augmented = train_wav2letter(replace(config, spec_augment=(4, 3)), toy_items(),
                                 progress=False, cache_dir=tmp_path)
    assert plain.history["loss"][0] != augmented.history["loss"][0]


def test_channel_copies_change_training_and_are_checked(tmp_path):
    config = replace(CONFIG, steps=3)
    plain = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path)
    copied = train_wav2letter(replace(config, augment=1), toy_items(), progress=False,
                              cache_dir=tmp_path)
    assert plain.history["loss"] != copied.history["loss"]
    with pytest.raises(ValueError, match="channel copies"):
        replace(config, augment=-1)


def test_other_training_seeds_keep_the_channel_copies(tmp_path, monkeypatch):
    """The copies are drawn from ``channel_seed`` (None: the training seed): the recogniser
    trained with another seed keeps them, so the seeds differ in weights and batches only;
    another channel seed draws other copies."""
    import speechxai.experiments.navai as navai

    drawn = []
    copies = navai.with_channel_copies
    monkeypatch.setattr(navai, "with_channel_copies",
                        lambda items, n, seed: drawn.append(seed) or copies(items, n, seed))
    config = replace(CONFIG, steps=2, augment=1, seed=3)
    other_seed = config.with_training_seed(4)
    assert (other_seed.seed, other_seed.copies_seed, config.copies_seed) == (4, 3, 3)
    assert replace(config, seed=4).copies_seed == 4
    assert config.with_training_seed(3).key() == config.key() == replace(config,
                                                                        channel_seed=3).key()
    for changed in (other_seed, replace(config, channel_seed=5)):
        train_wav2letter(changed, toy_items(), progress=False, cache_dir=tmp_path)
    assert drawn == [3, 5]


def test_warm_up_reaches_the_training_and_is_checked(tmp_path):
    """``warmup`` changes the trained recogniser (a warm-up scales the first steps' rate
    down: the second loss differs) and joins the cache key; a negative one is refused."""
    config = replace(CONFIG, steps=3)
    plain = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path)
    warmed = train_wav2letter(replace(config, warmup=2), toy_items(), progress=False,
                              cache_dir=tmp_path)
    assert plain.history["loss"][0] == warmed.history["loss"][0]
    assert plain.history["loss"][1] != warmed.history["loss"][1]
    assert replace(config, warmup=2).key() != config.key()
    with pytest.raises(ValueError, match="warmup"):
        replace(config, warmup=-1)


@pytest.mark.parametrize("strides", [(1, 1), (2, 1)])
def test_output_lengths_are_the_model_output_frames_of_each_padded_utterance(strides):
    torch.manual_seed(0)
    model = Wav2Letter((4, 4), (5, 5), strides=strides).eval()
    spectrograms = [torch.randn(128, n) for n in (3, 20, 37)]
    batch, lengths = padded_batch(spectrograms, 4, model)
    assert batch.shape == (3, 128, 37 + 8)
    for spectrogram, row, n in zip(spectrograms, batch, lengths, strict=True):
        floor = spectrogram.min(1, keepdim=True).values
        t = spectrogram.shape[1]
        torch.testing.assert_close(row[:, 4:4 + t], spectrogram)
        torch.testing.assert_close(row[:, :4], floor.expand(-1, 4))
        torch.testing.assert_close(row[:, 4 + t:], floor.expand(-1, row.shape[1] - 4 - t))
        alone = model(row[None, :, :max(t + 8, receptive_field(model))])
        assert alone.shape[1] == n  # every counted frame sees no batch filling ...
        torch.testing.assert_close(model(row[None])[0, :n], alone[0])
    assert model(batch).shape[1] == lengths.max()  # ... and the longest fills the batch


def test_training_lowers_the_ctc_loss_and_evaluates(tmp_path):
    trained = train_wav2letter(CONFIG, toy_items(), progress=False, cache_dir=tmp_path)
    history = trained.history
    assert len(history["loss"]) == CONFIG.steps and history["step"] == history["cer"] == []
    assert np.all(np.isfinite(history["loss"]))
    assert np.mean(history["loss"][-5:]) < 0.7 * np.mean(history["loss"][:5])
    assert not trained.model.training
    result = evaluate_wav2letter(trained.model, toy_items(), CONFIG.padding)
    assert 0 <= result.cer < np.inf and 0 <= result.wer < np.inf
    assert len(result.hypotheses) == 4


def test_same_seed_same_weights_and_the_cache_returns_them(tmp_path):
    config = replace(CONFIG, steps=3)
    first = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path / "a")
    second = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path / "b")
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    (cached,) = (tmp_path / "a").glob("wav2letter-*.pt")
    loaded = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path / "a")
    assert loaded.history == first.history and not loaded.model.training
    for a, b in zip(first.model.state_dict().values(), loaded.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = train_wav2letter(replace(config, seed=1), toy_items(), progress=False,
                             cache_dir=tmp_path / "a")
    assert len(list((tmp_path / "a").glob("wav2letter-*.pt"))) == 2
    assert not torch.equal(other.model.layers[0].weight, first.model.layers[0].weight)
    assert cached.exists()


def test_monitored_training_records_cers(tmp_path):
    config = replace(CONFIG, steps=5)
    history = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path,
                               monitor_items=toy_items()[:2]).history
    assert history["step"] == [1, 2, 3, 4, 5] and len(history["cer"]) == 5


def test_analysis_windows_are_unpadded_letter_windows_of_every_item():
    torch.manual_seed(0)
    model = Wav2Letter((4, 4), (5, 5)).eval()
    with torch.no_grad():  # make 'e' win at every frame: every frame is a letter window
        model.layers[-1].bias.zero_()
        model.layers[-1].bias[5] = 100.0
    items = toy_items() + [Item(torch.zeros(400), RATE, "short")]  # 3 frames < rf 9
    result = analysis_windows(model, items)
    rf = receptive_field(model)
    counts = [utterance_log_mel(item).shape[1] - rf + 1 for item in items[:4]]
    assert len(result.letters) == len(result.frames) == len(result.items) == sum(counts)
    assert set(result.letters) == {"e"} and set(result.letters) <= set(LETTERS)
    np.testing.assert_array_equal(np.bincount(result.items), counts)
    for k in (0, sum(counts) - 1):
        spectrogram = utterance_log_mel(items[result.items[k]])
        t = result.frames[k]
        torch.testing.assert_close(result.windows[k], spectrogram[:, t:t + rf])
    assert analysis_windows(model, items[4:]).windows.shape == (0, 128, rf)


def bn_rule_error(seed: int = 0, n_windows: int = 3) -> float:
    """Max |difference| between :func:`~speechxai.attribution.navai.lrp_bn_rule` (zennit
    hooks, float64) and the rule's direct computation on small random networks with random
    BatchNorm statistics and scales of both signs."""
    generator = torch.Generator().manual_seed(seed)
    errors = []
    for channels, kernels in (((4,), (3,)), ((6, 5), (3, 2))):
        model = Wav2Letter(channels=channels, kernels=kernels, in_channels=5).double()
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                size = module.num_features
                module.running_mean = torch.randn(size, generator=generator, dtype=torch.float64)
                module.running_var = torch.rand(size, generator=generator,
                                                dtype=torch.float64) + 0.5
                module.weight.data = torch.randn(size, generator=generator, dtype=torch.float64)
                module.bias.data = torch.randn(size, generator=generator, dtype=torch.float64)
        model.eval()
        rf = receptive_field(model)
        windows = torch.randn(n_windows, 5, rf, generator=generator, dtype=torch.float64)
        letters = list("aks"[:n_windows])
        relevance = lrp_bn_rule(model, windows, letters).values
        for window, letter, result in zip(windows.numpy(), letters, relevance, strict=True):
            expected = bn_rule_direct(model, window, ALPHABET.index(letter))
            errors.append(float(np.abs(result - expected).max()))
    return max(errors)


def test_bn_rule_agrees_with_its_direct_computation_and_middle_layer():
    from speechxai.experiments.navai import middle_layer

    assert bn_rule_error(seed=1, n_windows=2) < 1e-10
    model = Wav2Letter(channels=(4, 4, 4, 4), kernels=(3, 3, 3, 3), in_channels=5)
    assert middle_layer(model) == 2  # of 5 convolutions: 4 blocks and the 1x1 output


def test_wav2letter_trains_bf16_only_on_a_cpu_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(speechxai.device, "native_bf16", lambda device=None: False)
    config = replace(CONFIG, steps=2, bf16=True)
    trained = train_wav2letter(config, toy_items(), progress=False, cache_dir=tmp_path)
    assert trained.config == replace(config, bf16=False)


def test_controls_prose_follows_the_intervals():
    from speechxai.experiments.navai import describe_controls

    below, across = (-0.2, -0.3, -0.1), (-0.1, -0.3, 0.05)
    text = describe_controls({"min_sens": {"random_shifts": below, "shuffled_letters": below},
                              "max_lrp": {"random_shifts": across, "shuffled_letters": below}})
    assert text.startswith("Aligned at the sensitivity minimum, the maps are more specific")
    assert "aligned at the LRP maximum, not" in text and "2 of 2 alignments beat" in text
    assert describe_controls({"max_lrp": {"random_shifts": across, "shuffled_letters": across}}
                             ).startswith("No alignment")


def test_the_paper_profiles_recogniser_has_krug_and_stobers_receptive_field():
    from speechxai.experiments.navai import Wav2LetterConfig
    from speechxai.profiles import chapter_parameters

    recognizer = chapter_parameters("navai", "paper")["recognizer"]
    assert Wav2LetterConfig(**recognizer).receptive_field == 206


def test_specificity_prose_compares_with_the_papers_statement():
    from speechxai.experiments.navai import describe_specificity

    agree = describe_specificity({"none": 0.6, "max_lrp": 0.5, "max_sens": 0.55, "min_sens": 0.3})
    assert "3 of 3 alignments" in agree and agree.endswith("so it is here.")
    differ = describe_specificity({"none": 0.4, "max_lrp": 0.3, "max_sens": 0.5, "min_sens": 0.45})
    assert "1 of 3" in differ and "here the LRP maximum is (+0.30 against +0.45)" in differ
