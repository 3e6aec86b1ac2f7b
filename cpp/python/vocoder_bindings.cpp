// Binds the C++ Vocoder as sparsewave._core.Vocoder. Generation runs with the
// GIL released; progress callbacks re-take it, at most ~20 times a second.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "api/stream.h"
#include "api/vocoder.h"
#include "model/fatchord_model.h"

namespace py = pybind11;
using sparsewave::Vocoder;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

const float* mel_pointer(const Vocoder& v, const FloatArray& mels) {
  require(mels.ndim() == 2 && mels.shape(1) == v.model().n_mels(),
          "mels must have shape (frames, " + std::to_string(v.model().n_mels()) + ")");
  return mels.data();
}

FloatArray synthesize(const Vocoder& v, const FloatArray& mels, uint64_t seed, bool batched, int64_t target,
                      int64_t overlap, int threads, std::optional<FloatArray> uniforms, py::object progress) {
  const float* m = mel_pointer(v, mels);
  sparsewave::SynthesisOptions o;
  o.seed = seed;
  o.batched = batched;
  o.target = target;
  o.overlap = overlap;
  o.threads = threads;
  if (uniforms) {
    o.uniforms = uniforms->data();
    o.n_uniforms = uniforms->size();
  }
  // Every ~50 ms the hook takes the GIL to report progress and, on the
  // calling thread, to let Ctrl-C (or any exception the callback raises)
  // cancel the synthesis; the exception is re-raised once it has stopped.
  std::mutex mutex;
  auto last = std::chrono::steady_clock::now();
  const auto caller = std::this_thread::get_id();
  py::object error_type, error_value, error_trace;
  o.progress = [&](int64_t done) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(50)) return true;
    last = now;
    py::gil_scoped_acquire gil;
    try {
      if (std::this_thread::get_id() == caller && PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress.is_none()) progress(done);
      return true;
    } catch (py::error_already_set& e) {
      if (!error_type) {
        error_type = e.type();
        error_value = e.value();
        error_trace = e.trace();
      }
      return false;
    }
  };
  std::vector<float> out;
  try {
    py::gil_scoped_release release;
    out = v.synthesize(m, mels.shape(0), o);
  } catch (const sparsewave::SynthesisCancelled&) {
    if (error_type) {
      PyErr_Restore(error_type.release().ptr(), error_value.release().ptr(), error_trace.release().ptr());
      throw py::error_already_set();
    }
    throw py::value_error("synthesis cancelled");
  }
  if (!progress.is_none()) progress(static_cast<int64_t>(out.size()));  // the final count, unthrottled
  return FloatArray(static_cast<py::ssize_t>(out.size()), out.data());
}

py::tuple teacher_forced(const Vocoder& v, const FloatArray& mels, const FloatArray& audio, bool want_logits) {
  const float* m = mel_pointer(v, mels);
  require(audio.ndim() == 1, "audio must be 1-D");
  const int64_t n = audio.shape(0);
  FloatArray logits = want_logits ? FloatArray({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(v.model().n_classes())})
                                  : FloatArray(0);
  float* lp = want_logits ? logits.mutable_data() : nullptr;
  double nll;
  {
    py::gil_scoped_release release;
    nll = v.teacher_forced(m, mels.shape(0), audio.data(), n, lp);
  }
  return py::make_tuple(nll, logits);
}

py::tuple conditioning(const Vocoder& v, const FloatArray& mels) {
  const auto* fm = dynamic_cast<const sparsewave::FatchordModel*>(&v.model());
  require(fm != nullptr, "conditioning arrays are only exposed for the fatchord family");
  const auto cond = fm->condition(mel_pointer(v, mels), mels.shape(0));
  std::vector<float> up, aux;
  fm->conditioning_arrays(*cond, up, aux);
  const py::ssize_t n = cond->n_samples;
  FloatArray a({n, static_cast<py::ssize_t>(n ? up.size() / n : 0)}, up.data());
  FloatArray b({n, static_cast<py::ssize_t>(n ? aux.size() / n : 0)}, aux.data());
  return py::make_tuple(a, b);
}

}  // namespace

void bind_vocoder(py::module_& mod) {
  // Keeps the Vocoder alive while a Stream refers to it. Stream locks each
  // call, so every member releases the GIL before it can wait for the lock
  // (a thread holding the lock never needs the GIL: no callbacks).
  using Release = py::call_guard<py::gil_scoped_release>;
  py::class_<sparsewave::Stream>(mod, "Stream")
      .def(py::init<const Vocoder&, uint64_t>(), py::arg("vocoder"), py::arg("seed"), py::keep_alive<1, 2>())
      .def("push",
           [](sparsewave::Stream& s, const FloatArray& mels) {
             const int n_mels = s.n_mels();
             require(mels.ndim() == 2 && mels.shape(1) == n_mels,
                     "mels must have shape (frames, " + std::to_string(n_mels) + ")");
             py::gil_scoped_release release;  // the caller's reference keeps mels alive
             s.push(mels.data(), mels.shape(0));
           },
           py::arg("mels").noconvert())
      .def("finish", &sparsewave::Stream::finish, Release())
      .def_property_readonly("available", py::cpp_function(&sparsewave::Stream::available, Release()))
      .def_property_readonly("frames", py::cpp_function(&sparsewave::Stream::frames, Release()))
      .def_property_readonly("samples_done", py::cpp_function(&sparsewave::Stream::samples_done, Release()))
      .def_property_readonly("finished", py::cpp_function(&sparsewave::Stream::finished, Release()))
      .def_property_readonly("frames_conditioned", py::cpp_function(&sparsewave::Stream::frames_conditioned, Release()))
      .def("pull",
           [](sparsewave::Stream& s, int64_t max_samples) {
             std::vector<float> out;
             {
               py::gil_scoped_release release;
               out = s.pull(max_samples);
             }
             return FloatArray(static_cast<py::ssize_t>(out.size()), out.data());
           },
           py::arg("max_samples") = std::numeric_limits<int64_t>::max());

  py::class_<Vocoder>(mod, "Vocoder")
      .def_static("load",
                  [](const std::string& path, const std::optional<std::string>& weights,
                     const std::optional<double>& tail_cut, const std::vector<std::string>& float_matrices) {
                    sparsewave::LoadOptions o;  // None: as the file stores them
                    if (weights) o.weights = sparsewave::parse_weight_type(*weights);
                    o.tail_cut = tail_cut;  // None: the file's config
                    o.float_matrices = float_matrices;
                    py::gil_scoped_release release;
                    return Vocoder::load(path, o);
                  },
                  py::arg("path"), py::arg("weights") = py::none(), py::arg("tail_cut") = py::none(),
                  py::arg("float_matrices") = std::vector<std::string>{})
      .def_property_readonly("sample_rate", [](const Vocoder& v) { return v.model().sample_rate(); })
      .def_property_readonly("hop_length", [](const Vocoder& v) { return v.model().hop_length(); })
      .def_property_readonly("n_mels", [](const Vocoder& v) { return v.model().n_mels(); })
      .def_property_readonly("n_classes", [](const Vocoder& v) { return v.model().n_classes(); })
      .def_property_readonly("family", [](const Vocoder& v) { return v.model().family(); })
      .def_property_readonly("streams", [](const Vocoder& v) { return v.model().streams(); })
      .def_property_readonly("utterance_threads", [](const Vocoder& v) { return v.model().utterance_threads(); })
      .def_property_readonly("uniforms_per_sample", [](const Vocoder& v) { return v.model().uniforms_per_sample(); })
      .def_property_readonly("tail_cut", [](const Vocoder& v) { return v.model().tail_cut(); })
      .def_property_readonly("config_json", &Vocoder::config_json)
      .def_property_readonly("format_version", &Vocoder::format_version)
      .def_property_readonly("preemphasis", &Vocoder::preemphasis)
      .def_property_readonly("loop_nonzero_macs", [](const Vocoder& v) { return v.model().loop_nonzero_macs(); })
      .def_property_readonly("loop_stored_macs", [](const Vocoder& v) { return v.model().loop_stored_macs(); })
      .def("describe", [](const Vocoder& v) { return v.model().describe(); })
      .def("fold_spans",
           [](const Vocoder& v, int64_t frames, int64_t target, int64_t overlap) {
             std::vector<std::pair<int64_t, int64_t>> out;
             for (const auto& s : v.fold_spans(frames, target, overlap)) out.emplace_back(s.start, s.length);
             return out;
           })
      .def("synthesize", &synthesize, py::arg("mels").noconvert(), py::arg("seed"), py::arg("batched"),
           py::arg("target"), py::arg("overlap"), py::arg("threads"), py::arg("uniforms").noconvert() = py::none(),
           py::arg("progress") = py::none())
      .def("teacher_forced", &teacher_forced, py::arg("mels").noconvert(), py::arg("audio").noconvert(),
           py::arg("want_logits"))
      .def("conditioning", &conditioning, py::arg("mels").noconvert());
}
