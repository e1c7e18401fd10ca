import torch
import torch.nn.functional as F
from torch import nn

from speechxai.models.audionet import AudioNet


def one_dimensional(model: AudioNet, waveforms: torch.Tensor) -> torch.Tensor:
    """The paper's AudioNet computed with torch's 1-D convolutions and poolings on
    ``model``'s weights."""
    signal = waveforms
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            signal = F.conv1d(signal, module.weight.squeeze(2), module.bias, padding=1)
        elif isinstance(module, nn.MaxPool2d):
            signal = F.max_pool1d(signal, module.kernel_size[1], module.stride[1])
        else:
            signal = module(signal)
    return model.classifier(signal)


def test_audionet_is_the_papers_one_dimensional_network():
    torch.manual_seed(0)
    model = AudioNet(10, width=0.25).eval()
    waveforms = torch.randn(3, 1, 8000)
    logits = model(waveforms)
    assert logits.shape == (3, 10)
    torch.testing.assert_close(logits, one_dimensional(model, waveforms), rtol=1e-5, atol=1e-5)
    # the input gradient (saliency, LRP's backward passes) too
    inputs = [waveforms.clone().requires_grad_() for _ in range(2)]
    model(inputs[0])[:, 3].sum().backward()
    one_dimensional(model, inputs[1])[:, 3].sum().backward()
    torch.testing.assert_close(inputs[0].grad, inputs[1].grad, rtol=1e-4, atol=1e-6)


def test_audionet_convolves_channels_last_and_loads_into_that_layout():
    torch.manual_seed(0)
    saved = AudioNet(2, width=0.25).state_dict()
    model = AudioNet(2, width=0.25)
    model.load_state_dict({name: value.contiguous() for name, value in saved.items()})
    # the first convolution's output (25 channels) comes out channels-last
    activation = model.features[:2](torch.randn(2, 1, 8000).unsqueeze(2)
                                    .contiguous(memory_format=torch.channels_last))
    assert activation.is_contiguous(memory_format=torch.channels_last)
    assert not activation.is_contiguous()
    assert all(torch.equal(value, model.state_dict()[name]) for name, value in saved.items())
