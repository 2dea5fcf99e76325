"""The pipeline's stages as functions on the demo's synthetic photos, and training from Python."""
import glob
import os

import numpy as np
import pytest

import faceforge as ff
from conftest import BUILD, ROOT

CELEBA = os.path.join(os.path.dirname(ROOT), "shared", "data", "celeba_subset")
MTCNN = os.path.join(BUILD, "mtcnn.safetensors")


@pytest.fixture(scope="module")
def models(demo):
    return (ff.Detector(os.path.join(demo, "detector", "best.safetensors")),
            ff.LandmarkModel(os.path.join(demo, "landmarks", "best.safetensors")),
            ff.EmbeddingModel(os.path.join(demo, "embed", "best.safetensors")))


def data_boxes(demo):
    """The demo data's face boxes (CelebA's list_bbox_celeba.txt): the quick demo's detector learns
    too little to find faces at its threshold, so the stages after detection start from these."""
    with open(os.path.join(demo, "data", "list_bbox_celeba.txt")) as f:
        rows = [l.split() for l in f.read().splitlines()[2:] if l.strip()]
    return {r[0]: np.array([float(v) for v in r[1:5]]) for r in rows}


def photos(demo, n):
    files = sorted(glob.glob(os.path.join(demo, "data", "img_celeba", "*.jpg")))
    assert len(files) >= n and os.path.basename(files[0]) == "000001.jpg"
    return [ff.load_image(f) for f in files[:n]]


def test_stages_step_by_step(demo, models):
    det, lmk, emb = models
    photo = photos(demo, 1)[0]
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    # The quick demo's detector trains for a step or two and finds nothing at its threshold: here
    # its forward's outputs; detection itself is tested on real photos with MTCNN below.
    out = ff.load_model(os.path.join(demo, "detector", "best.safetensors"))(
        np.zeros((1, 3, 128, 96), np.float32))
    assert {k: v.shape for k, v in out.items()} == {"heatmap": (1, 1, 32, 24), "size": (1, 2, 32, 24),
                                                     "offset": (1, 2, 32, 24), "landmarks": (1, 10, 32, 24)}
    assert isinstance(det.detect(photo), list)
    box = data_boxes(demo)["000001.jpg"]
    crop = lmk.crop(photo, box)
    S = lmk.input_size
    assert crop["image"].shape == (S, S, 3) and crop["input"].shape == (1, 3, S, S)
    hm = lmk.heatmaps(photo, box)
    assert hm.shape == (5, S // 4, S // 4) and np.isfinite(hm).all()
    points = lmk.predict(photo, box)
    assert points.shape == (5, 2) and np.isfinite(points).all()
    # The points lie in the box (enlarged by the framing's margin).
    x, y, w, h = box
    assert (points[:, 0] > x - w).all() and (points[:, 0] < x + 2 * w).all()
    aligned = ff.align(photo, points, emb.input_size)
    assert aligned.shape == (emb.input_size, emb.input_size, 3) and aligned.dtype == np.uint8
    m = ff.alignment_matrix(points, emb.input_size)
    warped = (m[:, :2] @ points.T).T + m[:, 2]
    # The similarity brings the points near the template (least squares: not exactly on it).
    assert np.abs(warped - ff.template(emb.input_size)).mean() < emb.input_size * 0.1
    e = emb.embed([photo], [points])
    assert e.shape == (1, emb.dim)
    assert np.linalg.norm(e[0]) == pytest.approx(1.0, abs=1e-4)


def test_embed_matches_verify(demo, models):
    det, lmk, emb = models
    a, b = photos(demo, 2)
    boxes = data_boxes(demo)
    r = ff.verify(a, b, landmarks=lmk, embedding=emb, box_a=boxes["000001.jpg"], box_b=boxes["000002.jpg"])
    np.testing.assert_allclose(r["a"]["box"], boxes["000001.jpg"])
    assert r["a"]["aligned"].shape == (emb.input_size, emb.input_size, 3) and r["figure"].ndim == 3
    ea = emb.embed([a], [r["a"]["landmarks"]])
    eb = emb.embed([b], [r["b"]["landmarks"]])
    assert float(ff.cosine(ea[0], eb[0])) == pytest.approx(r["cosine"], abs=1e-5)
    assert r["same"] == (r["cosine"] >= r["threshold"])


def test_bad_inputs_are_refused(models):
    det, lmk, emb = models
    with pytest.raises(TypeError, match="uint8"):
        det.detect(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ff.Error, match="no face box and no face detector"):
        ff.verify(a_photo := np.zeros((64, 64, 3), np.uint8), a_photo, landmarks=lmk, embedding=emb)
    with pytest.raises(ff.Error, match="channels"):
        det.detect(np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(ff.Error, match="5 x 2"):
        ff.align(np.zeros((32, 32, 3), np.uint8), np.zeros((4, 2)))
    with pytest.raises(ff.Error, match="not finite"):
        ff.align(np.zeros((32, 32, 3), np.uint8), np.full((5, 2), np.nan))
    with pytest.raises(ff.Error, match="positive"):
        lmk.predict(np.zeros((32, 32, 3), np.uint8), [0, 0, 0, 10])
    with pytest.raises(ff.Error, match="2 photos but 1"):
        emb.embed([np.zeros((32, 32, 3), np.uint8)] * 2, [np.zeros((5, 2))])
    with pytest.raises(ff.Error, match="embedding"):
        ff.EmbeddingModel(lmk.model.path)  # a landmark model is not an embedding model


def test_training_from_python_reports_progress(demo, tmp_path):
    reports = []
    r = ff.train_landmarks(os.path.join(demo, "data"), str(tmp_path / "lmk"), progress=reports.append,
                           config="stem=8,mid=8,channels=8,stacks=1,input=64", epochs=2, batch=8,
                           max_images=32, max_val_images=16, log_every=1)
    assert r["steps"] == 8 and len(r["epochs"]) == 2
    steps = [x for x in reports if not x["epoch_end"]]
    ends = [x for x in reports if x["epoch_end"]]
    assert len(steps) == 8 and [x["epoch"] for x in ends] == [1, 2]
    assert steps[-1]["steps_done"] == steps[-1]["steps_total"] == 8
    assert all(np.isfinite(x["loss"]) for x in reports)
    assert os.path.isfile(tmp_path / "lmk" / "best.safetensors")
    m = ff.load_model(str(tmp_path / "lmk" / "best.safetensors"))
    assert m.kind == "hourglass"
    with pytest.raises(TypeError, match="unknown option 'epoch'"):
        ff.train_landmarks(os.path.join(demo, "data"), str(tmp_path / "x"), epoch=1)
    with pytest.raises(ff.Error, match="progress callback raised"):
        def stop(_):
            raise ValueError("stop here")
        ff.train_landmarks(os.path.join(demo, "data"), str(tmp_path / "y"), progress=stop, epochs=1, batch=8,
                           config="stem=8,mid=8,channels=8,stacks=1,input=64", max_images=16, max_val_images=8)


def test_detect_real_photos_with_mtcnn():
    """facenet-pytorch's MTCNN (scripts/mtcnn_weights.sh) through Detector.detect on real CelebA
    photos: one face each, its five points near the data's landmarks."""
    if not os.path.isfile(MTCNN):
        pytest.skip(f"needs {MTCNN}: bash scripts/mtcnn_weights.sh {MTCNN}")
    if not os.path.isdir(CELEBA):
        pytest.skip(f"needs {CELEBA}")
    with open(os.path.join(CELEBA, "list_landmarks_celeba.txt")) as f:
        rows = [l.split() for l in f.read().splitlines()[2:12]]
    det = ff.Detector(MTCNN)
    assert "mtcnn" in det.name
    for r in rows:
        truth = np.array([float(v) for v in r[1:11]]).reshape(5, 2)
        faces = det.detect(ff.load_image(os.path.join(CELEBA, "img_celeba", r[0])))
        assert faces, r[0]
        iod = np.linalg.norm(truth[0] - truth[1])
        err = np.linalg.norm(faces[0]["landmarks"] - truth, axis=1).mean() / iod
        assert err < 0.2, f"{r[0]}: mean landmark error {err:.3f} of the inter-ocular distance"
