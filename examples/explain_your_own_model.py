"""Explain your own model: a small keyword spotter with a convolutional front end and an
``nn.LSTM``, explained by every method of ``speechxai.explain``.

Run it with ``python examples/explain_your_own_model.py``; it trains nothing (random
weights), so it shows the API, not a finding. ``make test`` runs it.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import speechxai  # noqa: E402

SAMPLE_RATE = 8000


class KeywordSpotter(nn.Module):
    """Waveform (N, 1, T) -> convolutional features -> LSTM -> 3 keyword logits."""

    def __init__(self):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(1, 8, 64, stride=32), nn.BatchNorm1d(8), nn.ReLU())
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        features = self.front(waveforms).transpose(1, 2)  # (N, frames, 8)
        outputs, _ = self.lstm(features)
        return self.head(outputs[:, -1])


def main() -> dict[str, speechxai.Explanation]:
    torch.manual_seed(0)
    model = KeywordSpotter().eval()
    time = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 440 * time) * np.exp(-((time - 0.25) / 0.08) ** 2)
    waveform = torch.tensor(tone, dtype=torch.float32)[None, None]  # (1, 1, 4000): 0.5 s

    explanations = {
        method: speechxai.explain(model, waveform, method=method, sample_rate=SAMPLE_RATE)
        for method in ("saliency", "gradient_x_input", "integrated_gradients", "lrp", "shap",
                       "occlusion")
    }
    lrp = explanations["lrp"]
    print(f"LRP through the LSTM: relevance sums to {lrp.values.sum():+.4f}, "
          f"the explained logit is {lrp.outputs[0]:+.4f} (biases keep the rest)")
    print(lrp.to_frame().head())
    lrp.plot().savefig("explain_your_own_model.png")
    lrp.play()  # the audible explanation ReLU(R) * x, in a notebook a player

    # A black box: any predict_proba over a list of waveforms, explained over 50-ms segments.
    def predict_proba(waveforms: list[torch.Tensor]) -> np.ndarray:
        with torch.no_grad():
            logits = model(torch.stack(waveforms)[:, None])
        return torch.softmax(logits, 1).numpy()

    occluded = speechxai.explain(predict_proba, waveform[:, 0], method="occlusion",
                                 sample_rate=SAMPLE_RATE, segment=0.05)
    print(f"black-box occlusion, most important 50 ms from "
          f"{occluded.axes[0].coords[occluded.values[0].argmax()]:.2f} s")
    return {**explanations, "black-box occlusion": occluded}


if __name__ == "__main__":
    main()
