"""Tensors and numpy: sharing memory where the layout allows, copies where it does not, refusals."""
import numpy as np
import pytest

import faceforge as ff


def test_from_numpy_shares_memory_when_contiguous():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ff.tensor(a)
    assert t.shape == (3, 4) and t.dtype == "float32" and t.device == "cpu"
    a[1, 2] = 100.0  # written through numpy, seen by the tensor
    assert t.numpy()[1, 2] == 100.0
    v = t.numpy()
    v[0, 0] = -7.0  # and the other way round
    assert a[0, 0] == -7.0


def test_copies_when_the_layout_does_not_allow_sharing():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = ff.tensor(a.T)  # not C-contiguous: copied in C order
    np.testing.assert_array_equal(t.numpy(), a.T)
    a[0, 0] = 50.0
    assert t.numpy()[0, 0] == 0.0
    c = ff.tensor(a, copy=True)
    a[0, 1] = 9.0
    assert c.numpy()[0, 1] == 1.0
    ro = np.arange(3, dtype=np.int64)
    ro.setflags(write=False)
    np.testing.assert_array_equal(ff.tensor(ro).numpy(), ro)


def test_numpy_view_outlives_the_tensor():
    t = ff.tensor(np.ones((5, 5), dtype=np.float32) * 3)
    v = ff.relu(t).numpy()
    del t
    assert v.sum() == 75.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8])
def test_every_engine_dtype_round_trips(dtype):
    a = (np.arange(6) % 4).astype(dtype).reshape(2, 3)
    t = ff.tensor(a)
    assert t.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(np.asarray(t), a)


@pytest.mark.parametrize("dtype", [np.float16, np.bool_, np.complex64, np.uint16])
def test_unsupported_dtypes_are_refused(dtype):
    with pytest.raises(TypeError, match="not supported"):
        ff.tensor(np.zeros(3, dtype=dtype))


def test_shape_errors_carry_the_engines_message():
    with pytest.raises(ff.Error, match=r"\[2, 3\].*\[3, 2\]|\[3, 2\].*\[2, 3\]"):
        ff.add(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(ff.Error):
        ff.conv2d(np.zeros((1, 3, 8, 8), np.float32), np.zeros((4, 2, 3, 3), np.float32))  # 3 vs 2 channels
    with pytest.raises(ff.Error):
        ff.add(np.zeros(3, np.float32), np.zeros(3, np.float64))  # dtypes differ
    with pytest.raises(ff.Error, match="requires_grad"):
        ff.tensor(np.zeros(3, np.int64), requires_grad=True)


def test_devices_are_checked():
    if ff.cuda_available():
        pytest.skip("not applicable: this machine has a CUDA device")
    with pytest.raises(ff.Error, match="cuda"):
        ff.zeros([2, 2], device="cuda")
    with pytest.raises(ff.Error, match="unknown device"):
        ff.tensor(np.zeros(2, np.float32)).to("tpu")


def test_autograd_through_the_module():
    x = ff.tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    y = ff.sum(ff.relu(x) * 3.0)
    assert y.item() == pytest.approx(15.0)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 3.0], [3.0, 0.0]])
    assert x.is_leaf and not y.is_leaf
    with ff.no_grad():
        z = ff.relu(x)
    assert not z.requires_grad
