// libFuzzer target for the weight-file loader: the input bytes are a weight
// file, opened by Vocoder::load exactly as the API and the Python module open
// one (safetensors header and tensors, sparsewave metadata, config JSON, the
// family's model build). A file that loads then runs a few conditioning
// frames and samples, so matrices that pass the checks are also read.
//
// Contract checked: load either succeeds or throws std::invalid_argument /
// std::runtime_error (anything else escapes and is reported as a crash), and
// generated samples are finite and within [-1, 1]. Memory errors and UB are
// the sanitizers' job (built with -fsanitize=fuzzer,address,undefined).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/vocoder.h"

namespace {

// Frames, samples and logits run on a loaded model: enough to touch every
// layer, bounded so that large (valid) models stay fast to fuzz.
constexpr int64_t kMaxFrames = 4;
constexpr int64_t kMaxSteps = 24;
constexpr int64_t kMaxConditionedSamples = int64_t(1) << 16;
constexpr int64_t kMaxWorkMacs = int64_t(1) << 26;  // per exercise, roughly

// The weight file lives in an anonymous in-memory file: Vocoder::load takes a
// path, and /proc/self/fd/N is one without touching the disk.
const std::string& memory_file_path(int* fd_out) {
  static int fd = -1;
  static std::string path;
  if (fd < 0) {
    fd = memfd_create("sparsewave-fuzz-model", MFD_CLOEXEC);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  *fd_out = fd;
  return path;
}

void write_all(int fd, const uint8_t* data, size_t size) {
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

void check_samples(const float* x, int64_t n, const char* what) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(x[i]) <= 1.0f)) {  // also NaN
      std::fprintf(stderr, "%s: sample %lld is %g, outside [-1, 1]\n", what, static_cast<long long>(i), x[i]);
      std::abort();
    }
}

// A few frames of mel-like values, then samples and teacher-forced logits.
void exercise(const sparsewave::Vocoder& vocoder) {
  const sparsewave::Model& m = vocoder.model();
  (void)m.describe();
  const int64_t hop = m.hop_length();
  const int64_t frames = std::min<int64_t>(kMaxFrames, m.lookahead_frames() + 1);
  if (frames * hop > kMaxConditionedSamples) return;
  const int64_t steps = std::min<int64_t>(kMaxSteps, frames * hop);
  if (m.loop_stored_macs() * steps > kMaxWorkMacs) return;

  std::vector<float> mels(static_cast<size_t>(frames * m.n_mels()));
  for (size_t i = 0; i < mels.size(); ++i) mels[i] = -4.0f + 0.37f * static_cast<float>(i % 13);
  const auto cond = m.condition(mels.data(), frames);
  if (cond->n_samples != frames * hop) std::abort();

  std::vector<float> out(static_cast<size_t>(steps));
  const sparsewave::StreamSpan span{0, steps};
  auto state = m.start_generation(1);
  const sparsewave::UniformFn uniform = [](int, int64_t i) { return static_cast<float>((i * 37 + 11) % 101) / 101.0f; };
  m.continue_generation(*cond, {span}, *state, steps, uniform, {out.data()}, nullptr);
  check_samples(out.data(), steps, "continue_generation");

  std::vector<float> logits(static_cast<size_t>(steps * m.n_classes()));
  (void)m.teacher_forced(*cond, out.data(), steps, logits.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = -1;
  const std::string& path = memory_file_path(&fd);
  write_all(fd, data, size);
  std::unique_ptr<sparsewave::Vocoder> vocoder;
  try {
    vocoder = sparsewave::Vocoder::load(path);
  } catch (const std::invalid_argument&) {
    return 0;  // refused with a message: the contract
  } catch (const std::runtime_error&) {
    return 0;
  }
  exercise(*vocoder);
  // Each weight type builds its own copies of the loop matrices: float32
  // packs an int8 file's dequantized weights (the default load runs a file's
  // int8 matrices as stored), float16 refuses weights outside its range,
  // int8 quantizes a float file's.
  for (sparsewave::WeightType t :
       {sparsewave::WeightType::f32, sparsewave::WeightType::f16, sparsewave::WeightType::i8,
        sparsewave::WeightType::i8a16}) {
    sparsewave::LoadOptions options;
    options.weights = t;
    try {
      vocoder = sparsewave::Vocoder::load(path, options);
    } catch (const std::invalid_argument&) {
      continue;
    }
    exercise(*vocoder);
  }
  return 0;
}
