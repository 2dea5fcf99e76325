"""The pipeline's stages as functions on the demo's synthetic photos, and training from Python."""
import glob
import os

import numpy as np
import pytest

import faceforge as ff


@pytest.fixture(scope="module")
def models(demo):
    return (ff.Detector(os.path.join(demo, "detector", "best.safetensors")),
            ff.LandmarkModel(os.path.join(demo, "landmarks", "best.safetensors")),
            ff.EmbeddingModel(os.path.join(demo, "embed", "best.safetensors")))


def photos(demo, n):
    files = sorted(glob.glob(os.path.join(demo, "data", "img_celeba", "*.jpg")))
    assert len(files) >= n
    return [ff.load_image(f) for f in files[:n]]


def test_stages_step_by_step(demo, models):
    det, lmk, emb = models
    photo = photos(demo, 1)[0]
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    faces = det.detect(photo)
    assert faces, "the demo's detector finds the face of a demo photo"
    box = faces[0]["box"]
    assert box.shape == (4,) and 0 <= faces[0]["score"] <= 1 and faces[0]["landmarks"].shape == (5, 2)
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
    r = ff.verify(a, b, landmarks=lmk, embedding=emb, detector=det)
    assert r["a"]["aligned"].shape == (emb.input_size, emb.input_size, 3) and r["figure"].ndim == 3
    ea = emb.embed([a], [r["a"]["landmarks"]])
    eb = emb.embed([b], [r["b"]["landmarks"]])
    assert float(ff.cosine(ea[0], eb[0])) == pytest.approx(r["cosine"], abs=1e-5)
    assert r["same"] == (r["cosine"] >= r["threshold"])


def test_bad_inputs_are_refused(models):
    det, lmk, emb = models
    with pytest.raises(TypeError, match="uint8"):
        det.detect(np.zeros((32, 32, 3), np.float32))
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
