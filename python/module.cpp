// python/module.cpp — `import faceforge`: the engine and the pipeline for Python (pybind11).
//
// What it binds, and how (docs/python.md has the tour):
//   Tensor      the engine's tensor. faceforge.tensor(array) shares a numpy array's memory when
//               its layout allows (C-contiguous, aligned, writeable, a supported dtype) and copies
//               it otherwise; Tensor.numpy() is always a view of the tensor's memory (CPU only).
//               requires_grad, .grad, .backward() are the engine's autograd.
//   ops         the public ops of engine/ops.h with their autograd, and Python's operators.
//   models      load_model(): any checkpoint models/factory.h reads (hourglass, embedding, resnet,
//               detector); forward() on Tensors; parameters as Tensors (their .grad after a
//               backward).
//   pipeline    the stages of face/pipeline.h as functions on numpy images (H x W x 3 uint8):
//               Detector.detect, LandmarkModel.predict / heatmaps, align, EmbeddingModel.embed,
//               cosine and verify; every result a numpy array or a dict of them.
//   training    train_landmarks / train_embed / train_detector: the functions the command calls
//               (face/*_train.cpp), with the command's option names, and a progress callback
//               called at every logged interval and epoch end.
//
// The GIL is released while the engine works (forward, training, detection), so a notebook's
// other threads run; the progress callback takes it back. Every ff::Error becomes
// faceforge.Error (a RuntimeError) carrying the engine's message; a bad argument type is
// pybind11's TypeError; nothing reaches the engine unchecked.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/celeba.h"
#include "data/face_sample.h"
#include "data/geometry.h"
#include "data/image.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "face/detect.h"
#include "face/detector.h"
#include "face/embed.h"
#include "face/landmarks.h"
#include "face/pipeline.h"
#include "models/factory.h"

namespace py = pybind11;
using namespace ff;

namespace {

// ---------------------------------------------------------------- numpy <-> Tensor
DType dtype_from_numpy(const py::dtype& dt) {
  if (dt.is(py::dtype::of<float>())) return DType::F32;
  if (dt.is(py::dtype::of<double>())) return DType::F64;
  if (dt.is(py::dtype::of<int32_t>())) return DType::I32;
  if (dt.is(py::dtype::of<int64_t>())) return DType::I64;
  if (dt.is(py::dtype::of<uint8_t>())) return DType::U8;
  throw py::type_error("faceforge: numpy dtype " + py::repr(dt).cast<std::string>() +
                       " is not supported (float32, float64, int32, int64 or uint8)");
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::F32: return py::dtype::of<float>();
    case DType::F64: return py::dtype::of<double>();
    case DType::I32: return py::dtype::of<int32_t>();
    case DType::I64: return py::dtype::of<int64_t>();
    case DType::U8: return py::dtype::of<uint8_t>();
  }
  throw py::type_error("faceforge: unknown dtype");
}

// The array's memory as a tensor when its layout allows (no copy: writes through either are seen
// by both), else a copy. The tensor's storage holds a reference to the array; releasing it takes
// the GIL, since the last reference may go on an engine thread.
Tensor tensor_from_numpy(const py::array& a, bool copy) {
  const DType dt = dtype_from_numpy(a.dtype());
  Shape shape(a.shape(), a.shape() + a.ndim());
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  const bool c_contiguous = (flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) != 0;
  const bool aligned = (flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
  const bool writeable = a.writeable();
  if (!copy && c_contiguous && aligned && writeable && a.nbytes() > 0) {
    auto* ref = new py::object(a);
    std::shared_ptr<void> owner(ref, [](py::object* o) {
      if (!Py_IsInitialized()) return;  // the interpreter is gone: nothing left to release
      py::gil_scoped_acquire gil;
      delete o;
    });
    return Tensor::from_external(const_cast<void*>(a.data()), shape, dt, std::move(owner));
  }
  Tensor t = Tensor::empty(shape, dt);
  if (t.numel() == 0) return t;
  // A C-ordered copy of any layout (numpy does the strides).
  py::array c = py::array::ensure(a, py::array::c_style | py::array::forcecast);
  if (!c) throw py::error_already_set();
  std::memcpy(t.raw(), c.data(), t.nbytes());
  return t;
}

// A numpy view of a CPU tensor's memory; the array keeps the tensor's storage alive.
py::array tensor_to_numpy(const Tensor& t) {
  FF_CHECK(t.defined(), "Tensor.numpy: the tensor is undefined");
  FF_CHECK(t.device().is_cpu(), "Tensor.numpy: the tensor is on ", t.device().str(),
           "; call .cpu() first (numpy arrays live in host memory)");
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t s = static_cast<py::ssize_t>(dtype_size(t.dtype()));
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  auto* keep = new std::shared_ptr<TensorImpl>(t.impl_ptr());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<TensorImpl>*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw(), base);
}

// Arguments that accept a Tensor or anything numpy.asarray takes (an array, a list, a number).
Tensor as_tensor(const py::handle& h) {
  if (py::isinstance<Tensor>(h)) return h.cast<Tensor>();
  py::array a = py::array::ensure(h);
  if (!a) {
    PyErr_Clear();
    throw py::type_error("faceforge: expected a Tensor or a numpy array, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  }
  // numpy turns Python floats into float64 and ints into int64: keep them as given.
  return tensor_from_numpy(a, false);
}

Tensor opt_tensor(const py::object& h) { return h.is_none() ? Tensor() : as_tensor(h); }

Device parse_device(const std::string& s) { return Device::parse(s); }

// faceforge.tensor(data) / faceforge.Tensor(data): a Tensor is cloned (no history), anything else
// goes through numpy.asarray.
Tensor make_tensor(const py::object& data, bool requires_grad, bool copy) {
  Tensor t;
  if (py::isinstance<Tensor>(data)) {
    t = data.cast<Tensor>().clone();
  } else {
    py::array a = py::array::ensure(data);
    if (!a) throw py::error_already_set();
    t = tensor_from_numpy(a, copy);
  }
  if (requires_grad) {
    FF_CHECK(is_floating(t.dtype()), "requires_grad needs a float32 or float64 tensor, got ", dtype_name(t.dtype()));
    t.requires_grad_(true);
  }
  return t;
}

// ---------------------------------------------------------------- images
// A photo from Python: H x W x 3 (RGB) or H x W (gray) uint8, any strides.
Image image_from_numpy(const py::array& a, const char* what) {
  if (!a.dtype().is(py::dtype::of<uint8_t>()))
    throw py::type_error(std::string(what) + ": expected a uint8 image (H x W x 3), got dtype " +
                         py::repr(a.dtype()).cast<std::string>());
  FF_CHECK(a.ndim() == 3 || a.ndim() == 2, what, ": expected an image H x W x 3 or H x W, got ", a.ndim(),
           " dimensions");
  const int64_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  FF_CHECK(c == 3 || c == 1, what, ": expected 3 (RGB) or 1 channels, got ", c);
  FF_CHECK(h > 0 && w > 0 && h <= kMaxImageSide && w <= kMaxImageSide, what, ": image size ", w, "x", h, " outside 1..",
           kMaxImageSide);
  Image img(static_cast<int>(w), static_cast<int>(h), static_cast<int>(c));
  py::array cont = py::array::ensure(a, py::array::c_style);
  std::memcpy(img.data(), cont.data(), img.size());
  return img.channels == 3 ? img : to_channels(img, 3);
}

py::array image_to_numpy(const Image& img) {
  std::vector<py::ssize_t> shape{img.height, img.width};
  if (img.channels != 1) shape.push_back(img.channels);
  py::array_t<uint8_t> out(shape);
  std::memcpy(out.mutable_data(), img.data(), img.size());
  return std::move(out);
}

FaceBox box_from(const py::handle& h, const char* what) {
  std::vector<double> v;
  try {
    v = h.cast<std::vector<double>>();
  } catch (const py::cast_error&) {
    py::array_t<double> a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(h);
    if (!a) throw py::type_error(std::string(what) + ": a box is [x, y, width, height]");
    v.assign(a.data(), a.data() + a.size());
  }
  FF_CHECK(v.size() == 4, what, ": a box is [x, y, width, height], got ", v.size(), " numbers");
  for (double x : v) FF_CHECK(std::isfinite(x), what, ": the box has a non-finite number");
  FF_CHECK(v[2] > 0 && v[3] > 0, what, ": the box's width and height must be positive, got ", v[2], " x ", v[3]);
  return FaceBox{static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2]),
                 static_cast<float>(v[3])};
}

py::array box_to_numpy(const FaceBox& b) {
  py::array_t<double> out(4);
  double* p = out.mutable_data();
  p[0] = b.x, p[1] = b.y, p[2] = b.width, p[3] = b.height;
  return std::move(out);
}

Landmarks5 landmarks_from(const py::handle& h, const char* what) {
  py::array_t<double> a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a) throw py::type_error(std::string(what) + ": landmarks are a 5 x 2 array of (x, y)");
  FF_CHECK(a.size() == 10, what, ": landmarks are 5 x 2 (x, y), got ", a.size(), " numbers");
  Landmarks5 l;
  for (int k = 0; k < 5; ++k) {
    l[k] = {a.data()[2 * k], a.data()[2 * k + 1]};
    FF_CHECK(std::isfinite(l[k].x) && std::isfinite(l[k].y), what, ": landmark ", k, " (", landmark_name(k),
             ") is not finite");
  }
  return l;
}

py::array landmarks_to_numpy(const Landmarks5& l) {
  py::array_t<double> out({5, 2});
  double* p = out.mutable_data();
  for (int k = 0; k < 5; ++k) p[2 * k] = l[k].x, p[2 * k + 1] = l[k].y;
  return std::move(out);
}

py::array affine_to_numpy(const Affine2& m) {
  py::array_t<double> out({2, 3});
  double* p = out.mutable_data();
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) p[3 * r + c] = m.m[r][c];
  return std::move(out);
}

// ---------------------------------------------------------------- models
struct PyModel {
  LoadedModel m;
  std::string path;
};

py::object model_forward(PyModel& pm, const Tensor& x) {
  LoadedModel& m = pm.m;
  if (m.kind == "hourglass") {
    std::vector<Tensor> outs;
    {
      py::gil_scoped_release nogil;
      outs = m.hourglass().forward_all(x);
    }
    return py::cast(outs);
  }
  if (m.kind == "detector") {
    DetectorOutput o;
    {
      py::gil_scoped_release nogil;
      o = m.detector().forward_all(x);
    }
    py::dict d;
    d["heatmap"] = o.heatmap, d["size"] = o.size, d["offset"] = o.offset, d["landmarks"] = o.landmarks;
    return std::move(d);
  }
  Tensor y;
  {
    py::gil_scoped_release nogil;
    y = m.module->forward(x);
  }
  return py::cast(y);
}

py::dict named_tensors(const std::vector<std::pair<std::string, Tensor*>>& v) {
  py::dict d;
  for (const auto& [name, t] : v) d[py::str(name)] = *t;  // the same tensor: its .grad is the model's
  return d;
}

// ---------------------------------------------------------------- pipeline objects
struct PyDetector {
  std::unique_ptr<FaceDetector> det;
};

py::list detections_to_py(const std::vector<FaceDetection>& found) {
  py::list out;
  for (const FaceDetection& d : found) {
    py::dict f;
    f["box"] = box_to_numpy(d.box);
    f["score"] = d.score;
    f["landmarks"] = d.has_landmarks ? py::object(landmarks_to_numpy(d.landmarks)) : py::object(py::none());
    out.append(f);
  }
  return out;
}

struct PyLandmarks {
  LandmarkModel lmk;
};
struct PyEmbedding {
  EmbeddingModel emb;
};

// The hourglass's input for one face: the crop the pipeline makes (face/landmarks.h
// face_crop_matrix, data/face_sample.h warp_face_sample), normalized as in training.
Tensor landmark_input(const LandmarkModel& lmk, const Image& photo, const FaceBox& box) {
  Rng unused;
  const int64_t S = lmk.framing.input_size;
  FaceSample s = warp_face_sample(photo, face_crop_matrix(box, lmk.framing), nullptr, S, nullptr, unused);
  return s.image.reshape({1, 3, S, S});
}

// ---------------------------------------------------------------- training
// Options from keyword arguments with the command's names (dashes as underscores); an unknown
// name is refused, naming it.
struct Kwargs {
  py::kwargs kw;
  std::vector<std::string> used;
  template <typename T>
  void get(const char* name, T& into) {
    used.push_back(name);
    if (kw.contains(name)) into = kw[name].cast<T>();
  }
  void finish(const char* fn) {
    for (auto item : kw) {
      const std::string k = py::str(item.first);
      if (std::find(used.begin(), used.end(), k) == used.end()) {
        std::string known;
        for (const auto& u : used) known += (known.empty() ? "" : ", ") + u;
        throw py::type_error(std::string(fn) + "(): unknown option '" + k + "' (known: " + known + ")");
      }
    }
  }
};

// progress: None (the command's progress line on stderr), False (silent), True (one printed
// line per report, for notebooks, whose cells do not show stderr) or a callable taking a dict.
void set_progress(FitOptions& fit, const py::object& progress) {
  fit.progress = false;
  if (progress.is_none()) {
    fit.progress = true;
    return;
  }
  if (py::isinstance<py::bool_>(progress) && !progress.cast<bool>()) return;
  py::object fn = progress;
  if (py::isinstance<py::bool_>(progress)) {
    fn = py::module_::import("faceforge").attr("print_progress");
  }
  if (!PyCallable_Check(fn.ptr())) throw py::type_error("progress must be None, a bool or a callable");
  // The callback and the Python objects die with the GIL held.
  std::shared_ptr<py::object> keep(new py::object(fn), [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  fit.on_report = [keep](const FitReport& r) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      py::error_already_set e;
      FF_FAIL("training interrupted: ", e.what());
    }
    py::dict d;
    d["epoch"] = r.epoch, d["epochs"] = r.epochs, d["step"] = r.step;
    d["steps_done"] = r.steps_done, d["steps_total"] = r.steps_total;
    d["loss"] = r.loss, d["lr"] = r.lr, d["images_per_s"] = r.images_per_s;
    d["epoch_end"] = r.epoch_end;
    if (r.epoch_end) d["metric"] = r.metric, d["improved"] = r.improved;
    try {
      (*keep)(d);
    } catch (py::error_already_set& e) {
      FF_FAIL("the progress callback raised: ", e.what());
    }
  };
}

// The options every training function shares (train/fit.h FitOptions), then the training itself
// with the GIL released and the progress callback installed.
template <typename Options, typename Train>
auto run_training(Options& o, Kwargs& k, const char* fn, const py::object& progress, Train train) {
  k.get("epochs", o.fit.epochs), k.get("save_every", o.fit.save_every), k.get("log_every", o.fit.log_every);
  k.finish(fn);
  set_progress(o.fit, progress);
  py::gil_scoped_release nogil;
  return train(o);
}

py::dict fit_result(const FitResult& r) {
  py::dict d;
  d["steps"] = r.steps, d["best_metric"] = r.best_metric, d["images_per_s"] = r.images_per_s;
  d["seconds"] = r.seconds, d["losses"] = r.losses, d["loss_steps"] = r.loss_steps;
  py::list epochs;
  for (const FitEpoch& e : r.epochs) {
    py::dict x;
    x["epoch"] = e.epoch, x["step"] = e.step, x["train_loss"] = e.train_loss, x["lr"] = e.lr;
    x["metric"] = e.metric, x["improved"] = e.improved, x["seconds"] = e.seconds;
    epochs.append(x);
  }
  d["epochs"] = epochs;
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "faceforge's engine and face pipeline (the C++ library, bound with pybind11)";
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  m.def("cuda_available", &cuda_available, "whether a CUDA device can be used");
  m.def("cuda_compiled", &cuda_compiled, "whether this build has the CUDA backend");

  // ------------------------------------------------------------ Tensor
  py::class_<Tensor>(m, "Tensor", "the engine's tensor (contiguous; float32, float64, int32, int64 or uint8)")
      .def(py::init(&make_tensor), py::arg("data"), py::kw_only(), py::arg("requires_grad") = false,
           py::arg("copy") = false,
           "a tensor of a numpy array (sharing its memory where the layout allows, unless copy=True)")
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("__len__",
           [](const Tensor& t) {
             FF_CHECK(t.dim() > 0, "len() of a 0-dim tensor");
             return t.size(0);
           })
      .def_property("requires_grad", &Tensor::requires_grad, [](Tensor& t, bool on) { t.requires_grad_(on); })
      .def(
          "requires_grad_", [](Tensor& t, bool on) -> Tensor& { return t.requires_grad_(on); }, py::arg("on") = true,
          py::return_value_policy::reference_internal)
      .def_property_readonly("grad",
                             [](const Tensor& t) -> py::object {
                               Tensor g = t.grad();
                               return g.defined() ? py::cast(g) : py::none();
                             })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def("zero_grad", &Tensor::zero_grad, "drops the accumulated gradient")
      .def(
          "backward",
          [](const Tensor& t, const py::object& grad) {
            Tensor g = opt_tensor(grad);
            py::gil_scoped_release nogil;
            if (g.defined())
              t.backward(g);
            else
              t.backward();
          },
          py::arg("grad") = py::none(), "backpropagates from this tensor (a one-element one, or give grad)")
      .def("numpy", &tensor_to_numpy, "a numpy view of the tensor's memory (CPU tensors)")
      .def(
          "__array__",
          [](const Tensor& t, const py::object& dtype) {
            py::array a = tensor_to_numpy(t);
            return dtype.is_none() ? a : py::array(a.attr("astype")(dtype));
          },
          py::arg("dtype") = py::none())
      .def("item", &Tensor::item)
      .def("detach", &Tensor::detach)
      .def("clone", &Tensor::clone)
      .def("cpu", &Tensor::cpu)
      .def(
          "to",
          [](const Tensor& t, const std::string& what) {
            if (what == "float32") return t.to(DType::F32);
            if (what == "float64") return t.to(DType::F64);
            if (what == "int32") return t.to(DType::I32);
            if (what == "int64") return t.to(DType::I64);
            if (what == "uint8") return t.to(DType::U8);
            return t.to(parse_device(what));
          },
          py::arg("device_or_dtype"), "to a device ('cpu', 'cuda') or a dtype ('float32', ...)")
      .def("reshape", [](const Tensor& t, const Shape& s) { return t.reshape(s); })
      .def("__repr__",
           [](const Tensor& t) {
             std::string s = "faceforge.Tensor(" + t.str();
             if (t.requires_grad()) s += ", requires_grad";
             return s + ")";
           })
      .def("__add__",
           [](const Tensor& a, const py::object& b) {
             return py::isinstance<py::float_>(b) || py::isinstance<py::int_>(b) ? add_scalar(a, b.cast<double>())
                                                                                 : add(a, as_tensor(b));
           })
      .def("__radd__", [](const Tensor& a, double b) { return add_scalar(a, b); })
      .def("__sub__",
           [](const Tensor& a, const py::object& b) {
             return py::isinstance<py::float_>(b) || py::isinstance<py::int_>(b) ? add_scalar(a, -b.cast<double>())
                                                                                 : sub(a, as_tensor(b));
           })
      .def("__rsub__", [](const Tensor& a, double b) { return add_scalar(scale(a, -1.0), b); })
      .def("__mul__",
           [](const Tensor& a, const py::object& b) {
             return py::isinstance<py::float_>(b) || py::isinstance<py::int_>(b) ? scale(a, b.cast<double>())
                                                                                 : mul(a, as_tensor(b));
           })
      .def("__rmul__", [](const Tensor& a, double b) { return scale(a, b); })
      .def("__truediv__",
           [](const Tensor& a, double b) {
             FF_CHECK(b != 0, "Tensor / 0");
             return scale(a, 1.0 / b);
           })
      .def("__neg__", [](const Tensor& a) { return scale(a, -1.0); });

  m.def("tensor", &make_tensor, py::arg("data"), py::kw_only(), py::arg("requires_grad") = false,
        py::arg("copy") = false,
        "a tensor of a numpy array (or list): shares the array's memory where the layout allows");
  m.def(
      "zeros",
      [](const Shape& s, const std::string& dt, const std::string& dev) {
        return Tensor::zeros(s, dtype_from_numpy(py::dtype(dt)), parse_device(dev));
      },
      py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu");

  // no_grad: `with faceforge.no_grad(): ...`
  struct NoGrad {
    std::unique_ptr<NoGradGuard> guard;
  };
  py::class_<NoGrad>(m, "no_grad", "a context in which ops record no autograd history")
      .def(py::init<>())
      .def("__enter__", [](NoGrad& g) { g.guard = std::make_unique<NoGradGuard>(); })
      .def("__exit__", [](NoGrad& g, py::args) { g.guard.reset(); });

  // ------------------------------------------------------------ ops (engine/ops.h)
  auto T = [](const py::object& h) { return as_tensor(h); };
  m.def("add", [T](py::object a, py::object b) { return add(T(a), T(b)); });
  m.def("sub", [T](py::object a, py::object b) { return sub(T(a), T(b)); });
  m.def("mul", [T](py::object a, py::object b) { return mul(T(a), T(b)); });
  m.def("scale", [T](py::object x, double s) { return scale(T(x), s); });
  m.def("relu", [T](py::object x) { return relu(T(x)); });
  m.def("prelu", [T](py::object x, py::object w) { return prelu(T(x), T(w)); });
  m.def("sigmoid", [T](py::object x) { return sigmoid(T(x)); });
  m.def("sqrt", [T](py::object x) { return ff::sqrt(T(x)); });
  m.def("clamp", [T](py::object x, double lo, double hi) { return clamp(T(x), lo, hi); });
  m.def("sum", [T](py::object x) { return sum(T(x)); });
  m.def("mean", [T](py::object x) { return mean(T(x)); });
  m.def(
      "flatten", [T](py::object x, int64_t start) { return flatten(T(x), start); }, py::arg("x"),
      py::arg("start_dim") = 1);
  m.def(
      "conv2d",
      [T](py::object x, py::object w, py::object b, int stride, int pad) {
        Tensor xt = T(x), wt = T(w), bt = opt_tensor(b);
        py::gil_scoped_release nogil;
        return conv2d(xt, wt, bt, stride, pad);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0);
  m.def(
      "max_pool2d", [T](py::object x, int k, int s, int p, bool ceil) { return max_pool2d(T(x), k, s, p, ceil); },
      py::arg("x"), py::arg("kernel"), py::arg("stride"), py::arg("padding") = 0, py::arg("ceil_mode") = false);
  m.def("adaptive_avg_pool2d_1x1", [T](py::object x) { return adaptive_avg_pool2d_1x1(T(x)); });
  m.def(
      "batch_norm2d",
      [T](py::object x, py::object g, py::object b, Tensor rm, Tensor rv, bool training, double momentum, double eps) {
        return batch_norm2d(T(x), T(g), T(b), rm, rv, training, momentum, eps);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"), py::arg("running_var"),
      py::arg("training"), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
      "running_mean/var must be faceforge Tensors (updated in place when training)");
  m.def(
      "upsample_bilinear2d",
      [T](py::object x, int64_t h, int64_t w, bool ac) { return upsample_bilinear2d(T(x), h, w, ac); }, py::arg("x"),
      py::arg("height"), py::arg("width"), py::arg("align_corners"));
  m.def(
      "linear", [T](py::object x, py::object w, py::object b) { return linear(T(x), T(w), opt_tensor(b)); },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none());
  m.def(
      "l2_normalize", [T](py::object x, double eps) { return l2_normalize(T(x), eps); }, py::arg("x"),
      py::arg("eps") = 1e-12);
  m.def("mse_loss", [T](py::object x, py::object t) { return mse_loss(T(x), T(t)); });
  m.def(
      "cross_entropy", [T](py::object x, py::object l) { return cross_entropy(T(x), T(l)); }, py::arg("logits"),
      py::arg("labels"));
  m.def(
      "arcface_loss", [T](py::object c, py::object l, double s, double mm) { return arcface_loss(T(c), T(l), s, mm); },
      py::arg("cos"), py::arg("labels"), py::arg("s") = 45.0, py::arg("m") = 0.1);
  m.def(
      "focal_loss", [T](py::object x, py::object t, double a, double b) { return focal_loss(T(x), T(t), a, b); },
      py::arg("logits"), py::arg("target"), py::arg("alpha") = 2.0, py::arg("beta") = 4.0);

  // ------------------------------------------------------------ models
  py::class_<PyModel>(m, "Model", "a network loaded from one of our checkpoints (models/factory.h)")
      .def_property_readonly("kind", [](const PyModel& p) { return p.m.kind; })
      .def_property_readonly("path", [](const PyModel& p) { return p.path; })
      .def_property_readonly("meta", [](const PyModel& p) { return p.m.meta; })
      .def_property_readonly("has_head", [](const PyModel& p) { return p.m.has_head(); })
      .def(
          "forward", [](PyModel& p, const py::object& x) { return model_forward(p, as_tensor(x)); },
          "hourglass: the list of every stack's heatmaps; detector: a dict (heatmap, size, offset, "
          "landmarks); embedding and resnet: one tensor")
      .def("__call__", [](PyModel& p, const py::object& x) { return model_forward(p, as_tensor(x)); })
      .def(
          "head_scores", [](PyModel& p, const py::object& emb) { return p.m.get_head().scores(as_tensor(emb)); },
          "the head's class scores (ArcFace: cosines; softmax: logits) of embeddings")
      .def("eval", [](PyModel& p) { p.m.eval(); })
      .def("train",
           [](PyModel& p) {
             p.m.module->train(true);
             if (p.m.head) p.m.head->train(true);
           })
      .def("to", [](PyModel& p, const std::string& dev) { p.m.to(parse_device(dev)); })
      .def("zero_grad", [](PyModel& p) { p.m.module->zero_grad(); })
      .def(
          "parameters", [](PyModel& p) { return named_tensors(p.m.module->named_parameters()); },
          "name -> Tensor, the model's own (their .grad after a backward)")
      .def("buffers", [](PyModel& p) { return named_tensors(p.m.module->named_buffers()); })
      .def("num_parameters", [](PyModel& p) { return p.m.module->num_parameters(); })
      .def("__repr__", [](const PyModel& p) { return "faceforge.Model(" + p.m.kind + ", " + p.path + ")"; });
  m.def(
      "load_model",
      [](const std::string& path) {
        auto p = std::make_unique<PyModel>();
        p->m = load_model(path);
        p->path = path;
        return p;
      },
      py::arg("path"), "any faceforge checkpoint (RUN/best.safetensors, a converted model)");

  // ------------------------------------------------------------ pipeline
  m.def(
      "load_image", [](const std::string& path) { return image_to_numpy(load_image(path, 3)); }, py::arg("path"),
      "a photo as H x W x 3 uint8 RGB (JPEG, PNG)");
  m.def(
      "save_image",
      [](const py::array& img, const std::string& path) { save_image(image_from_numpy(img, "save_image"), path); },
      py::arg("image"), py::arg("path"));

  py::class_<PyDetector>(m, "Detector", "a face detector: ours (RUN/best.safetensors) or a converted MTCNN")
      .def(py::init([](const std::string& path, double threshold, int min_face) {
             DetectOptions o;
             o.score_threshold = threshold;
             o.min_face = min_face;
             auto d = std::make_unique<PyDetector>();
             d->det = load_detector(path.empty() ? default_detector_model() : path, o);
             return d;
           }),
           py::arg("path") = "", py::arg("threshold") = -1.0, py::arg("min_face") = 20)
      .def_property_readonly("name", [](const PyDetector& d) { return d.det->name(); })
      .def(
          "detect",
          [](PyDetector& d, const py::array& photo) {
            Image img = image_from_numpy(photo, "Detector.detect");
            std::vector<FaceDetection> found;
            {
              py::gil_scoped_release nogil;
              found = d.det->detect(img);
            }
            return detections_to_py(found);
          },
          py::arg("photo"), "faces found, highest score first: dicts of box [x, y, w, h], score, landmarks (5 x 2)");

  py::class_<PyLandmarks>(m, "LandmarkModel", "the stacked hourglass, with its framing and decoder")
      .def(py::init([](const std::string& path) {
             auto p = std::make_unique<PyLandmarks>();
             p->lmk = load_landmark_model(path.empty() ? default_landmark_model() : path);
             return p;
           }),
           py::arg("path") = "")
      .def_property_readonly("input_size", [](const PyLandmarks& p) { return p.lmk.framing.input_size; })
      .def_property_readonly("crop_scale", [](const PyLandmarks& p) { return p.lmk.framing.crop_scale; })
      .def_property_readonly("model",
                             [](const PyLandmarks& p) {
                               auto pm = std::make_unique<PyModel>();
                               pm->m = p.lmk.loaded;  // shares the network
                               pm->path = p.lmk.path;
                               return pm;
                             })
      .def(
          "crop",
          [](const PyLandmarks& p, const py::array& photo, const py::object& box) {
            Image img = image_from_numpy(photo, "LandmarkModel.crop");
            const FaceBox b = box_from(box, "LandmarkModel.crop");
            const int64_t S = p.lmk.framing.input_size;
            py::dict d;
            const Affine2 c = face_crop_matrix(b, p.lmk.framing);
            d["image"] = image_to_numpy(warp_image(img, c, S, S));
            d["matrix"] = affine_to_numpy(c);
            d["input"] = landmark_input(p.lmk, img, b);
            return d;
          },
          py::arg("photo"), py::arg("box"),
          "what the hourglass sees: the crop (S x S x 3 uint8), its matrix (photo -> crop) and the input tensor")
      .def(
          "heatmaps",
          [](PyLandmarks& p, const py::array& photo, const py::object& box) {
            Image img = image_from_numpy(photo, "LandmarkModel.heatmaps");
            const FaceBox b = box_from(box, "LandmarkModel.heatmaps");
            Tensor hm;
            {
              py::gil_scoped_release nogil;
              p.lmk.net->eval();
              NoGradGuard no_grad;
              hm = p.lmk.net->forward(landmark_input(p.lmk, img, b));
            }
            const int64_t H = hm.size(2), W = hm.size(3);
            return tensor_to_numpy(hm.reshape({hm.size(1), H, W}));
          },
          py::arg("photo"), py::arg("box"), "the last stack's heatmaps, one per landmark (5 x S/4 x S/4)")
      .def(
          "predict",
          [](PyLandmarks& p, const py::array& photo, const py::object& box) {
            Image img = image_from_numpy(photo, "LandmarkModel.predict");
            const FaceBox b = box_from(box, "LandmarkModel.predict");
            std::vector<Landmarks5> pts;
            {
              py::gil_scoped_release nogil;
              pts = predict_landmarks(*p.lmk.net, {&img}, {b}, p.lmk.framing, p.lmk.decode, Device::cpu());
            }
            return landmarks_to_numpy(pts[0]);
          },
          py::arg("photo"), py::arg("box"), "5 x 2 landmarks (x, y) in photo pixels, CelebA's order");

  m.def(
      "alignment_matrix",
      [](const py::object& l, int64_t size) {
        return affine_to_numpy(alignment_matrix(landmarks_from(l, "alignment_matrix"), size, false));
      },
      py::arg("landmarks"), py::arg("size") = 112, "the similarity (2 x 3, photo -> aligned) to the template");
  m.def(
      "align",
      [](const py::array& photo, const py::object& l, int64_t size) {
        FF_CHECK(size >= 16 && size <= 1024, "align: size must be in [16, 1024], got ", size);
        Image img = image_from_numpy(photo, "align");
        const Affine2 a = alignment_matrix(landmarks_from(l, "align"), size, false);
        return image_to_numpy(warp_image(img, a, size, size));
      },
      py::arg("photo"), py::arg("landmarks"), py::arg("size") = 112,
      "the face warped upright onto insightface's template: size x size x 3 uint8");
  m.def(
      "template",
      [](int64_t size) {
        py::array_t<double> out({5, 2});
        auto t = embed_template(size);
        for (int k = 0; k < 5; ++k) out.mutable_data()[2 * k] = t[k][0], out.mutable_data()[2 * k + 1] = t[k][1];
        return out;
      },
      py::arg("size") = 112, "where alignment puts the five landmarks (5 x 2)");

  py::class_<PyEmbedding>(m, "EmbeddingModel", "the ResNet embedding network")
      .def(py::init([](const std::string& path) {
             auto p = std::make_unique<PyEmbedding>();
             p->emb = load_embedding_model(path);
             return p;
           }),
           py::arg("path"))
      .def_property_readonly("input_size", [](const PyEmbedding& p) { return p.emb.input_size; })
      .def_property_readonly("dim", [](const PyEmbedding& p) { return p.emb.dim; })
      .def_property_readonly("model",
                             [](const PyEmbedding& p) {
                               auto pm = std::make_unique<PyModel>();
                               pm->m = p.emb.loaded;
                               pm->path = p.emb.path;
                               return pm;
                             })
      .def(
          "input",
          [](const PyEmbedding& p, const py::array& photo, const py::object& l) {
            Image img = image_from_numpy(photo, "EmbeddingModel.input");
            const int64_t S = p.emb.input_size;
            return make_eval_face(img, landmarks_from(l, "EmbeddingModel.input"), S, false).reshape({1, 3, S, S});
          },
          py::arg("photo"), py::arg("landmarks"),
          "the network's input for one face: aligned, normalized, 1 x 3 x S x S (what embed feeds it)")
      .def(
          "embed",
          [](PyEmbedding& p, const py::list& photos, const py::list& landmarks) {
            FF_CHECK(photos.size() == landmarks.size(), "EmbeddingModel.embed: ", photos.size(), " photos but ",
                     landmarks.size(), " landmark sets");
            std::vector<Image> imgs;
            std::vector<Landmarks5> lms;
            for (size_t i = 0; i < photos.size(); ++i) {
              imgs.push_back(image_from_numpy(photos[i].cast<py::array>(), "EmbeddingModel.embed"));
              lms.push_back(landmarks_from(landmarks[i], "EmbeddingModel.embed"));
            }
            std::vector<const Image*> ptrs;
            for (const Image& i : imgs) ptrs.push_back(&i);
            Tensor e;
            {
              py::gil_scoped_release nogil;
              e = embed_photos(p.emb, ptrs, lms);
            }
            return tensor_to_numpy(e);
          },
          py::arg("photos"), py::arg("landmarks"),
          "embeddings (N x D, unit length, with flip TTA) of faces given by photos and their landmarks");

  m.def(
      "verify",
      [](const py::array& a, const py::array& b, PyLandmarks& lmk, PyEmbedding& emb, PyDetector* det,
         const py::object& box_a, const py::object& box_b, double threshold) {
        Image ia = image_from_numpy(a, "verify"), ib = image_from_numpy(b, "verify");
        std::optional<FaceBox> ba, bb;
        if (!box_a.is_none()) ba = box_from(box_a, "verify: box_a");
        if (!box_b.is_none()) bb = box_from(box_b, "verify: box_b");
        VerifyResult r;
        {
          py::gil_scoped_release nogil;
          r = verify_faces(det ? det->det.get() : nullptr, lmk.lmk, emb.emb, ia, ib, "a", "b", ba, bb, threshold);
        }
        py::dict d;
        d["cosine"] = r.cosine, d["same"] = r.same, d["threshold"] = r.threshold;
        d["seconds"] = r.seconds;
        const AlignedFace* f[2] = {&r.a, &r.b};
        const char* key[2] = {"a", "b"};
        for (int i = 0; i < 2; ++i) {
          py::dict x;
          x["box"] = box_to_numpy(f[i]->box);
          x["landmarks"] = landmarks_to_numpy(f[i]->landmarks);
          x["aligned"] = image_to_numpy(f[i]->aligned);
          x["crop"] = image_to_numpy(f[i]->crop);
          x["faces_found"] = f[i]->where.found;
          d[key[i]] = x;
        }
        d["figure"] = image_to_numpy(verify_report_image(r));
        return d;
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("landmarks"), py::arg("embedding"),
      py::arg("detector") = nullptr, py::arg("box_a") = py::none(), py::arg("box_b") = py::none(),
      py::arg("threshold") = 0.6,
      "the whole pipeline on two photos (faces found by the detector unless boxes are given)");

  // ------------------------------------------------------------ training
  m.def(
      "train_landmarks",
      [](const std::string& data, const std::string& out, const py::object& progress, py::kwargs kw) {
        LandmarkTrainOptions o;
        o.data = data, o.out = out;
        Kwargs k{kw, {}};
        k.get("config", o.config), k.get("batch", o.batch), k.get("lr", o.lr), k.get("device", o.device);
        k.get("resume", o.resume), k.get("seed", o.seed), k.get("workers", o.workers);
        k.get("cache_mb", o.cache_mb), k.get("max_images", o.max_images), k.get("max_val_images", o.max_val_images);
        k.get("crop_scale", o.crop_scale), k.get("fg_weight", o.fg_weight);
        LandmarkTrainResult r = run_training(o, k, "train_landmarks", progress, train_landmarks);
        return fit_result(r);
      },
      py::arg("data"), py::arg("out"), py::kw_only(), py::arg("progress") = py::none(),
      "`faceforge train-landmarks` from Python: keyword options with the command's names");
  m.def(
      "train_embed",
      [](const std::string& data, const std::string& out, const py::object& progress, py::kwargs kw) {
        EmbedTrainOptions o;
        o.data = data, o.out = out;
        Kwargs k{kw, {}};
        k.get("head", o.head), k.get("config", o.config), k.get("batch", o.batch), k.get("lr", o.lr);
        k.get("momentum", o.momentum), k.get("weight_decay", o.weight_decay), k.get("schedule", o.schedule);
        k.get("s", o.arcface_s), k.get("m", o.arcface_m), k.get("device", o.device), k.get("resume", o.resume);
        k.get("seed", o.seed), k.get("workers", o.workers), k.get("cache_mb", o.cache_mb);
        k.get("split", o.split), k.get("holdout", o.holdout), k.get("landmarks_model", o.landmarks_model);
        EmbedTrainResult r = run_training(o, k, "train_embed", progress, train_embed);
        py::dict d = fit_result(r);
        d["num_classes"] = r.num_classes, d["train_images"] = r.train_images, d["val_images"] = r.val_images;
        py::list acc;
        for (const auto& a : r.val_acc) acc.append(py::make_tuple(a.plain, a.flip));
        d["val_acc"] = acc;
        return d;
      },
      py::arg("data"), py::arg("out"), py::kw_only(), py::arg("progress") = py::none(),
      "`faceforge train-embed` from Python: keyword options with the command's names");
  m.def(
      "train_detector",
      [](const std::string& data, const std::string& out, const py::object& progress, py::kwargs kw) {
        DetectorTrainOptions o;
        o.data = data, o.out = out;
        Kwargs k{kw, {}};
        k.get("config", o.config), k.get("batch", o.batch), k.get("lr", o.lr), k.get("device", o.device);
        k.get("landmark_weight", o.landmark_weight), k.get("workers", o.workers), k.get("seed", o.seed);
        k.get("resume", o.resume), k.get("max_images", o.max_images), k.get("max_val_images", o.max_val_images);
        DetectorTrainResult r = run_training(o, k, "train_detector", progress, train_detector);
        py::dict d;
        d["best"] = r.best, d["last"] = r.last, d["best_ap50"] = r.best_ap50, d["steps"] = r.steps;
        d["seconds"] = r.seconds, d["images_per_s"] = r.images_per_s;
        return d;
      },
      py::arg("data"), py::arg("out"), py::kw_only(), py::arg("progress") = py::none(),
      "`faceforge train-detector` from Python: keyword options with the command's names");
}
