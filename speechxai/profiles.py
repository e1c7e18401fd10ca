"""Run profiles: how much work each chapter does.

Every chapter takes the papermill parameters ``profile``, ``dataset`` and ``seed``, plus
the sizes its profile sets here:

- ``smoke``: seconds on tiny data, for the tests;
- ``quick``: the default book build on a laptop CPU (minutes per chapter), still showing
  the papers' qualitative findings;
- ``paper``: the papers' protocols on the real corpus, meant for a GPU.
"""

from __future__ import annotations

PROFILES = ("smoke", "quick", "paper")
DATASETS = ("embedded", "real", "audiomnist", "fsdd")
"""What ``dataset`` (``-p dataset``, ``--dataset``) takes: the corpora of
:func:`speechxai.datasets.open_corpus`."""
DEFAULT_PROFILE = "quick"

COMMON = {"dataset": "embedded", "seed": 0}

REAL_RECIPE = {"learning_rate": 1e-3, "cosine": True, "augment": "channel",
               "unit_input_init": True}
"""How the AudioMNIST classifiers learn to hear real speech at ``quick``: channel augmentation
(``speechxai.augment``) and unit-variance inputs at initialisation; used on real speech, and
by the embedded run's AlexNets. The steps per model are the sizing runs'
(``benchmarks/real_speech.py``, results in ``benchmarks/README.md``)."""

# Chapter-specific sizes per profile. A chapter missing here takes only the common ones.
CHAPTER_SIZES: dict[str, dict[str, dict[str, object]]] = {
    "listening": {
        "smoke": {"n_speakers": 2, "per_digit": 1},
        "quick": {"n_speakers": 24, "per_digit": 1},
        "paper": {"n_speakers": 24, "per_digit": 1},
    },
    # Becker et al. (2018): `training[architecture][task]` holds TrainingConfig fields.
    "audiomnist": {
        "smoke": {
            # trained past chance (issue 16: smoke findings must mean something): 12 voices
            # x 2, held-out accuracy AlexNet digit 0.42 / sex 0.70, AudioNet 0.33 / 0.82
            # (40 test recordings each; chance 0.1 / 0.5), about 50 s of training in all
            "n_speakers": 12,
            "per_digit": 2,
            "n_folds": 1,
            "training": {
                architecture: {
                    task: {"steps": steps, "batch_size": 16, "width": 0.5, "bf16": False,
                           "learning_rate": 1e-3, "cosine": True,
                           "unit_input_init": architecture == "alexnet"}
                    for task, steps in steps_by_task.items()
                }
                # AlexNet's sex model stayed at chance (0.53) after 80 steps
                for architecture, steps_by_task in (("alexnet", {"digit": 120, "sex": 120}),
                                                ("audionet", {"digit": 120, "sex": 60}))
            },
            "n_flipping": 6,
            "n_sanity": 4,
            "n_study": 6,
            "n_quiz": 2,
            "n_transfer": 100,
        },
        "quick": {
            # 48 voices instead of 24 (as many recordings) and, for AlexNet, the channel
            # augmentation: what raised transfer to real speech in the ablation
            # (benchmarks/README.md, "Real speech").
            "n_speakers": 48,
            "per_digit": 5,
            # the sex task's voices: the 40 human-sounding variants with Klatt voicing,
            # AlexNet sex on LibriSpeech 0.721 / 0.752 -> 0.850 / 0.857 (seeds 0 / 1); the
            # digit task keeps eSpeak's numbered variants: FSDD 0.600 with them, 0.582 with
            # these (benchmarks/README, "Klatt voicing")
            "voices": {"sex": "human-klatt"},
            "n_folds": 1,
            "training": {
                # 600 steps: transfer to FSDD 0.529 after 300, 0.607 after 600 (one seed);
                # half as wide for twice the steps: held-out voices 1.0, FSDD 0.603, in about
                # half the time (benchmarks/README, "half as wide")
                # the sex model too: held-out voices 0.973 -> 0.980, LibriSpeech 0.746 -> 0.753
                "alexnet": {"digit": {"steps": 1200, "width": 0.5, **REAL_RECIPE},
                            "sex": {"steps": 300, "width": 0.5, **REAL_RECIPE}},
                "audionet": {"digit": {"steps": 120, "learning_rate": 1e-3, "cosine": True},
                             "sex": {"steps": 50, "learning_rate": 1e-3, "cosine": True}},
            },
            "n_flipping": 48,
            "n_study": 120,
            "n_quiz": 6,
        },
        "paper": {
            "dataset": "audiomnist",
            "n_folds": None,
            "training": {
                "alexnet": {
                    task: {"steps": 10_000, "batch_size": 100, "optimizer": "sgd",
                           "learning_rate": 1e-3, "halve_lr_every": 2_500, "bf16": False}
                    for task in ("digit", "sex")
                },
                "audionet": {
                    "digit": {"steps": 50_000, "batch_size": 100, "optimizer": "sgd",
                              "learning_rate": 1e-4, "halve_lr_every": 10_000, "bf16": False},
                    "sex": {"steps": 10_000, "batch_size": 100, "optimizer": "sgd",
                            "learning_rate": 1e-4, "halve_lr_every": 5_000, "bf16": False},
                },
            },
            "n_flipping": 1000,
            "n_study": 1000,
            "n_quiz": 20,
        },
    },
    # Markert et al. (2021): `recognizer` holds CTCConfig fields, `attack` the PGD bounds.
    "deepspeech": {
        "smoke": {
            # trained past chance: CER 0.43 on 20 held-out sequences after 500 steps (12 s)
            "n_speakers": 12, "per_digit": 2, "n_train": 400, "n_test": 20,
            "recognizer": {"hidden": 64, "steps": 500, "batch_size": 16, "learning_rate": 3e-3},
            "n_explain": 1, "frames_per_utterance": 2, "n_attack": 4, "n_transfer": 50,
            "attack": {"eps": 0.02, "alpha": 0.002, "steps": 2},
        },
        "quick": {
            "n_speakers": 24, "per_digit": 10, "n_train": 2000, "n_test": 100,
            # one channel copy of every training sequence (speechxai.augment): CER on all
            # single FSDD digits 0.65 -> 0.50, on held-out voices 0.067 -> 0.023
            "recognizer": {"hidden": 128, "steps": 800, "batch_size": 32,
                           "learning_rate": 2e-3, "bf16": True, "augment": 1},
            "n_explain": 6, "frames_per_utterance": 6, "n_attack": 20,
            "attack": {"eps": 0.02, "alpha": 0.002, "steps": 150},
        },
        "paper": {
            "dataset": "audiomnist", "n_train": 20000, "n_test": 1000,
            "recognizer": {"hidden": 2048, "steps": 50_000, "batch_size": 64},
            "n_explain": 50, "frames_per_utterance": 20, "n_attack": 200,
            "attack": {"eps": 0.01, "alpha": 0.0005, "steps": 1000},
        },
    },
    # Krug & Stober (2018): `recognizer` holds Wav2LetterConfig fields.
    "navai": {
        "smoke": {
            # trained past chance: CER 0.29 on 20 held-out sequences after 300 steps (6 s)
            "n_speakers": 12, "per_digit": 2, "n_train": 400, "n_test": 20,
            "recognizer": {"channels": [32, 32, 32], "kernels": [9, 9, 9], "strides": [2, 1, 1],
                           "steps": 300, "batch_size": 16, "learning_rate": 5e-3,
                           # warmed up over a fifth, as at quick: seed 1 held-out CER 0.68 ->
                           # 0.41, seed 0 0.34 (benchmarks/README, 2026-12-07)
                           "warmup": 60},
            "n_analysis": 8, "n_seeds": 2, "actmax_steps": 5, "n_transfer": 50,
        },
        "quick": {
            "n_speakers": 24, "per_digit": 10, "n_train": 1000, "n_test": 100,
            "recognizer": {"channels": [64] * 5, "kernels": [13] * 5,
                           "strides": [2, 1, 1, 1, 1], "steps": 1500,
                           # 3e-3: at 5e-3 seed 2 on two threads (the book's) crept out of
                           # CTC's blank plateau and ended at CER 0.357 (1 thread: 0.007); at
                           # 3e-3 seeds 0-5 on two threads end at 0.001-0.010, at 5e-3 one of
                           # six did not (benchmarks/README, 2026-12-07 late)
                           "learning_rate": 3e-3,
                           "spec_augment": [20, 15],
                           # fp32: trained in bfloat16 on an AMX/AVX-512 BF16 Xeon (2026-12-05)
                           # it did not learn (CER 0.94 on held-out sequences, 1.0 on FSDD)
                           "bf16": False,
                           # one channel copy per sequence: FSDD digits CER 0.74 -> 0.50
                           "augment": 1,
                           # a linear warm-up over the first fifth: without it seed 1's
                           # recogniser stalled in CTC's all-blank plateau on every CPU
                           # (held-out CER 0.79); with it seeds 0-3 reach 0.002-0.010 (over
                           # a tenth, seed 2 0.305; benchmarks/README, 2026-12-07)
                           "warmup": 300},
            # the controls pooled over 3 training seeds (issue 16)
            "n_analysis": 100, "actmax_steps": 250, "n_seeds": 3,
        },
        "paper": {
            "dataset": "audiomnist", "n_train": 20000, "n_test": 1000,
            # Wav2Letter (Collobert et al. 2016): 48 (stride 2), 8 x 7, 32, 1 -> receptive
            # field 206 frames, Krug & Stober's
            "recognizer": {"channels": [250] * 9 + [2000, 2000],
                           "kernels": [48] + [7] * 8 + [32, 1],
                           "strides": [2] + [1] * 10, "steps": 50_000},
            "n_analysis": 1000, "actmax_steps": 250,
        },
    },
    # Pastor et al. (2024): `classifier` holds CommandConfig fields. The recogniser that aligns
    # the words and the sex classifier are the DeepSpeech and AudioMNIST chapters' (their
    # profiles' sizes, so the book reuses their cached models).
    "wordlevel": {
        "smoke": {
            # trained past chance (issue 16: smoke findings must mean something): slot
            # accuracy 0.5-0.75 on 8 held-out commands after 150 steps on 200
            "n_speakers": 6, "per_digit": 1, "n_train": 200, "n_test": 8,
            "classifier": {"width": 16, "steps": 150, "batch_size": 16, "learning_rate": 3e-3},
            "n_explain": 6, "n_paralinguistic": 2, "rounds": 2,
        },
        "quick": {
            "n_speakers": 24, "per_digit": 10, "n_train": 2000, "n_test": 100,
            "classifier": {"width": 64, "steps": 400, "batch_size": 32, "learning_rate": 3e-3},
            "n_explain": 60, "n_paralinguistic": 12, "rounds": 5,
        },
        "paper": {
            "dataset": "audiomnist", "n_train": 20000, "n_test": 1000,
            "classifier": {"width": 128, "steps": 10_000, "batch_size": 64},
            "n_explain": 1000, "n_paralinguistic": 200, "rounds": 5,
        },
    },
    # The comparison of methods explains the AudioMNIST chapter's fold-0 digit models and the
    # DeepSpeech chapter's recogniser (their profiles' sizes: the book reuses their models).
    "comparison": {
        "smoke": {"n_inputs": 4, "n_utterances": 2, "frames_per_utterance": 2, "ig_steps": 16},
        "quick": {"n_inputs": 12, "n_utterances": 4, "frames_per_utterance": 3},
        "paper": {"dataset": "audiomnist", "n_inputs": 100, "n_utterances": 20,
                  "frames_per_utterance": 5},
    },
    # Your own voice: the AudioMNIST and DeepSpeech chapters' models at the same profile.
    "yourvoice": {"paper": {"dataset": "audiomnist"}},
}


# What a dataset changes in a chapter's sizes, per profile (merged over CHAPTER_SIZES): real
# speech needs other training recipes than the embedded corpus (issue 15's sizing runs).
DATASET_SIZES: dict[str, dict[str, dict[str, dict[str, object]]]] = {
    "audiomnist": {
        "smoke": {
            "real": {"n_folds": 1},
            # AudioMNIST's 6-recording sample checks the loader and the chapter's code path
            # with models of 3 steps (six recordings make no accuracy claim)
            "audiomnist": {
                "audiomnist_root": "../shared/data/audiomnist-sample",
                "training": {
                    architecture: {task: {"steps": 3, "batch_size": 4, "width": 0.1,
                                          "bf16": False} for task in ("digit", "sex")}
                    for architecture in ("alexnet", "audionet")
                },
            },
        },
        "quick": {"real": {
            "n_folds": 2,
            # FSDD's 4 training speakers per fold joined by the embedded corpus's 48 voices
            "mix_embedded": ["digit"],
            "training": {
                # half as wide for 1,200 steps: all of the validation speakers' recordings
                # 0.786 -> 0.924 (fold 0), 0.868 -> 0.856 (fold 1) (benchmarks/README)
                # the sex model too (300 steps): validation speakers 0.930 / 0.892 either way
                "alexnet": {"digit": {"steps": 1200, "width": 0.5, **REAL_RECIPE},
                            "sex": {"steps": 300, "width": 0.5, **REAL_RECIPE}},
                # AudioNet's waveforms through the channel augmentation: 0.39 on held-out
                # FSDD speakers after 200 steps; without it 0.59 (fold 0, benchmarks/README).
                # Half as wide for three times the steps (about the same time): all of the
                # validation speakers' recordings 0.51 -> 0.64 (fold 0), 0.56 -> 0.65 (fold 1);
                # twice those steps with speed perturbation alone: 0.63 -> 0.69 (fold 0),
                # 0.62 -> 0.70 (fold 1), the best of six recipes (benchmarks/README, 2026-12-08)
                "audionet": {"digit": {"steps": 1200, "width": 0.5, **REAL_RECIPE,
                                       "augment": "speed"},
                             "sex": {"steps": 100, **REAL_RECIPE}},
            },
        }},
    },
    "wordlevel": {
        # the command classifier chosen by FSDD's validation speaker (benchmarks/
        # real_speech_commands.py): mean slot accuracy 0.856 with the embedded run's recipe,
        # 0.877 with a third of its learning rate for twice the steps (300 commands)
        "quick": {"real": {"classifier": {"width": 64, "steps": 800, "batch_size": 32,
                                          "learning_rate": 1e-3}}},
    },
}


def chapter_parameters(
    chapter: str, profile: str, overrides: dict[str, object] | None = None
) -> dict[str, object]:
    """The parameters papermill injects into ``chapter`` for ``profile``.

    The profile's sizes, then what :data:`DATASET_SIZES` sets for the ``dataset`` the
    overrides name, then the overrides. An unknown profile raises ``ValueError``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    overrides = overrides or {}
    parameters: dict[str, object] = {"profile": profile, **COMMON}
    parameters.update(CHAPTER_SIZES.get(chapter, {}).get(profile, {}))
    if "dataset" in overrides:
        parameters.update(
            DATASET_SIZES.get(chapter, {}).get(profile, {}).get(overrides["dataset"], {}))
    parameters.update(overrides)
    return parameters
