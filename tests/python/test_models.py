"""Checkpoints through the module: a PyTorch hourglass converted by tools/convert_torch.py,
loaded with faceforge.load_model, gives PyTorch's heatmaps; its parameters get gradients."""
import os

import numpy as np
import pytest

import faceforge as ff

torch = pytest.importorskip("torch", reason="needs python3-torch")


@pytest.fixture(scope="module")
def hourglass(tmp_path_factory):
    import convert_torch
    import torch_models as tm
    torch.manual_seed(3)
    net = tm.StackedHourglass(8, 16, 16, 2, 5)
    with torch.no_grad():  # batch-norm statistics that are not the defaults, so eval mode is tested
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    net.eval()
    d = tmp_path_factory.mktemp("hourglass")
    ckpt, out = str(d / "hg.pth"), str(d / "hg.safetensors")
    torch.save(net.state_dict(), ckpt)
    assert convert_torch.main([ckpt, out, "--input", "64"]) == 0
    return net, out


def test_hourglass_matches_pytorch(hourglass):
    net, path = hourglass
    m = ff.load_model(path)
    assert m.kind == "hourglass"
    m.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    outs = m(x)
    with torch.no_grad():
        ref = net(torch.tensor(x))
    assert len(outs) == len(ref) == 2
    for o, r in zip(outs, ref):
        assert o.shape == tuple(r.shape)
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-4, atol=2e-5)


def test_parameters_are_the_models_and_get_gradients(hourglass):
    _, path = hourglass
    m = ff.load_model(path)
    m.train()
    params = m.parameters()
    assert len(params) > 10 and m.num_parameters() == sum(p.numel() for p in params.values())
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ff.mean(m(x)[-1]).backward()
    w = params["init_conv.0.weight"]
    assert w.grad is not None and w.grad.shape == w.shape and np.abs(w.grad.numpy()).sum() > 0


def test_bad_checkpoints_are_errors_not_crashes(tmp_path):
    with pytest.raises(ff.Error, match="nothing.safetensors"):
        ff.load_model(str(tmp_path / "nothing.safetensors"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(ff.Error, match="bad.safetensors"):
        ff.load_model(str(bad))
