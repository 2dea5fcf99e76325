"""A few ops and their gradients through the module against PyTorch (float64)."""
import numpy as np
import pytest

import faceforge as ff

torch = pytest.importorskip("torch", reason="needs python3-torch")
F = torch.nn.functional


def both(a):
    """The same float64 values as a faceforge leaf and a torch leaf."""
    return ff.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def check(ff_out, th_out, leaves, rtol=1e-10, atol=1e-10):
    np.testing.assert_allclose(ff_out.numpy(), th_out.detach().numpy(), rtol=rtol, atol=atol)
    rng = np.random.default_rng(7)
    g = rng.standard_normal(th_out.shape)
    ff.sum(ff_out * ff.tensor(g)).backward()
    (th_out * torch.tensor(g)).sum().backward()
    for f, t in leaves:
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_conv2d():
    rng = np.random.default_rng(1)
    (x, tx), (w, tw), (b, tb) = both(rng.standard_normal((2, 3, 9, 8))), both(
        rng.standard_normal((4, 3, 3, 3))), both(rng.standard_normal(4))
    check(ff.conv2d(x, w, b, stride=2, padding=1), F.conv2d(tx, tw, tb, stride=2, padding=1),
          [(x, tx), (w, tw), (b, tb)])


def test_linear_and_l2_normalize():
    rng = np.random.default_rng(2)
    (x, tx), (w, tw), (b, tb) = both(rng.standard_normal((5, 7))), both(rng.standard_normal((3, 7))), both(
        rng.standard_normal(3))
    check(ff.l2_normalize(ff.linear(x, w, b)), F.normalize(F.linear(tx, tw, tb), dim=1), [(x, tx), (w, tw), (b, tb)])


def test_max_pool_and_bilinear_upsampling():
    rng = np.random.default_rng(3)
    x, tx = both(rng.standard_normal((2, 3, 7, 6)))
    for ac in (True, False):
        x.zero_grad()
        tx.grad = None
        check(ff.upsample_bilinear2d(ff.max_pool2d(x, 2, 2), 9, 5, ac),
              F.interpolate(F.max_pool2d(tx, 2, 2), size=(9, 5), mode="bilinear", align_corners=ac), [(x, tx)])


def test_cross_entropy():
    rng = np.random.default_rng(4)
    x, tx = both(rng.standard_normal((6, 5)))
    labels = np.array([0, 4, 2, 2, 1, 3], dtype=np.int64)
    check(ff.cross_entropy(x, labels), F.cross_entropy(tx, torch.tensor(labels)), [(x, tx)])
    with pytest.raises(ff.Error):
        ff.cross_entropy(x, np.array([0, 5, 0, 0, 0, 0], dtype=np.int64))  # a label out of range
