#include "model/conditioning_net.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sparsewave {

namespace {

// Folds eval-mode batch norm y = g (x - mean) / sqrt(var + eps) + beta into the
// preceding conv's rows (weights w, bias b) in place.
void fold_batch_norm(const SafetensorsFile& f, const std::string& bn, int channels, float eps, DenseMatrix& w,
                     std::vector<float>& b) {
  const auto g = f.read_f32(bn + ".weight", {channels});
  const auto beta = f.read_f32(bn + ".bias", {channels});
  const auto mean = f.read_f32(bn + ".running_mean", {channels});
  const auto var = f.read_f32(bn + ".running_var", {channels});
  for (int o = 0; o < channels; ++o) {
    if (var[o] < 0) throw std::invalid_argument("tensor '" + bn + ".running_var' has a negative variance");
    const float scale = g[o] / std::sqrt(var[o] + eps);
    for (int i = 0; i < w.cols; ++i) w.v[static_cast<std::size_t>(o) * w.cols + i] *= scale;
    b[o] = (b[o] - mean[o]) * scale + beta[o];
  }
}

DenseMatrix read_conv1x1(const SafetensorsFile& f, const std::string& name, int out, int in) {
  DenseMatrix m;
  m.rows = out;
  m.cols = in;
  m.v = f.read_f32(name, {out, in, 1});
  return m;
}

// y (frames x out) = x (frames x in) W^T + b, optional ReLU; frame by frame,
// so a frame's values do not depend on how many frames come together.
void dense_rows(const float* x, int64_t frames, const ColumnMajorMatrix& w, const std::vector<float>& b, bool relu,
                float* y) {
  const ElementwiseKernels& k = active_kernels().elementwise;
  for (int64_t t = 0; t < frames; ++t) {
    float* yt = y + t * w.rows;
    w.times(x + t * w.cols, b.data(), yt);
    if (relu) k.relu(yt, w.rows);
  }
}

}  // namespace

void MelResNet::load(const SafetensorsFile& f, const std::string& p, int n_mels_, int compute, int res_out,
                     int res_blocks, int kernel_, float eps) {
  n_mels = n_mels_;
  compute_dims = compute;
  res_out_dims = res_out;
  kernel = kernel_;
  // conv_in weight (C, n_mels, k) -> rows of [j*n_mels + m] for a frame-window dot product.
  const auto w = f.read_f32(p + "conv_in.weight", {compute, n_mels, kernel});
  DenseMatrix in;
  in.rows = compute;
  in.cols = kernel * n_mels;
  in.v.resize(static_cast<std::size_t>(compute) * kernel * n_mels);
  for (int o = 0; o < compute; ++o)
    for (int m = 0; m < n_mels; ++m)
      for (int j = 0; j < kernel; ++j)
        in.v[static_cast<std::size_t>(o) * in.cols + j * n_mels + m] =
            w[(static_cast<std::size_t>(o) * n_mels + m) * kernel + j];
  conv_in_bias.assign(compute, 0.0f);
  if (f.has(p + "conv_in.bias")) conv_in_bias = f.read_f32(p + "conv_in.bias", {compute});
  fold_batch_norm(f, p + "batch_norm", compute, eps, in, conv_in_bias);
  conv_in = ColumnMajorMatrix::from(in);
  blocks.clear();
  for (int i = 0; i < res_blocks; ++i) {
    const std::string l = p + "layers." + std::to_string(i) + ".";
    Block blk;
    DenseMatrix w1 = read_conv1x1(f, l + "conv1.weight", compute, compute);
    DenseMatrix w2 = read_conv1x1(f, l + "conv2.weight", compute, compute);
    blk.b1.assign(compute, 0.0f);
    blk.b2.assign(compute, 0.0f);
    fold_batch_norm(f, l + "batch_norm1", compute, eps, w1, blk.b1);
    fold_batch_norm(f, l + "batch_norm2", compute, eps, w2, blk.b2);
    blk.w1 = ColumnMajorMatrix::from(w1);
    blk.w2 = ColumnMajorMatrix::from(w2);
    blocks.push_back(std::move(blk));
  }
  conv_out = ColumnMajorMatrix::from(read_conv1x1(f, p + "conv_out.weight", res_out, compute));
  conv_out_bias.assign(res_out, 0.0f);
  if (f.has(p + "conv_out.bias")) conv_out_bias = f.read_f32(p + "conv_out.bias", {res_out});
}

std::vector<float> MelResNet::run(const float* padded, int64_t frames) const {
  std::vector<float> x(static_cast<std::size_t>(frames) * compute_dims), t1(x.size()), t2(x.size());
  // A valid conv over k frames is a dense product with the k-frame window,
  // which is contiguous in the row-major padded mel.
  for (int64_t t = 0; t < frames; ++t)
    dense_rows(padded + t * n_mels, 1, conv_in, conv_in_bias, true, x.data() + t * compute_dims);
  for (const Block& b : blocks) {
    dense_rows(x.data(), frames, b.w1, b.b1, true, t1.data());
    dense_rows(t1.data(), frames, b.w2, b.b2, false, t2.data());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += t2[i];
  }
  std::vector<float> out(static_cast<std::size_t>(frames) * res_out_dims);
  dense_rows(x.data(), frames, conv_out, conv_out_bias, false, out.data());
  return out;
}

int64_t Upsampler::reach() const {
  int64_t r = 0, later = total_factor();
  for (std::size_t i = 0; i < factors.size(); ++i) {
    later /= factors[i];
    r += static_cast<int64_t>(kernels[i].size() / 2) * later;
  }
  return r;
}

std::vector<std::vector<PolyphaseTap>> polyphase_taps(const Upsampler& up) {
  const int64_t hop = up.total_factor();
  const int64_t margin = up.reach() / hop + 2;
  const int64_t frames = 2 * margin + 1;
  std::vector<float> impulse(static_cast<std::size_t>(frames), 0.0f);
  impulse[static_cast<std::size_t>(margin)] = 1.0f;
  const std::vector<float> g = up.run(impulse, frames, 1);  // response to one frame
  std::vector<std::vector<PolyphaseTap>> taps(static_cast<std::size_t>(hop));
  for (int64_t phase = 0; phase < hop; ++phase)
    for (int64_t d = -margin; d <= margin; ++d) {
      // Frame (t / hop - d) contributes g(phase + d hop) to sample t.
      const int64_t idx = margin * hop + phase + d * hop;
      if (idx < 0 || idx >= static_cast<int64_t>(g.size())) continue;
      const float w = g[static_cast<std::size_t>(idx)];
      if (w != 0.0f) taps[static_cast<std::size_t>(phase)].push_back({static_cast<int>(d), w});
    }
  return taps;
}

TapReach tap_reach(const std::vector<std::vector<PolyphaseTap>>& taps) {
  TapReach r;
  for (const auto& phase : taps)
    for (const PolyphaseTap& t : phase) {
      r.back = std::max(r.back, t.frame_back);
      r.ahead = std::max(r.ahead, -t.frame_back);
    }
  return r;
}

int64_t Upsampler::total_factor() const {
  int64_t p = 1;
  for (int f : factors) p *= f;
  return p;
}

std::vector<float> Upsampler::run(const std::vector<float>& in, int64_t n, int channels) const {
  std::vector<float> cur = in, next;
  for (std::size_t s = 0; s < factors.size(); ++s) {
    const int f = factors[s];
    const int64_t m = n * f;
    next.assign(static_cast<std::size_t>(m) * channels, 0.0f);
    const auto& k = kernels[s];
    if (k.empty()) {
      for (int64_t t = 0; t < m; ++t)
        std::copy_n(cur.data() + (t / f) * channels, channels, next.data() + t * channels);
    } else {
      // Smoothing of the repeated signal: out[t] = sum_j k[j] rep[t + j - half].
      const int half = static_cast<int>(k.size() / 2);
      for (int64_t t = 0; t < m; ++t) {
        float* o = next.data() + t * channels;
        for (int j = 0; j < static_cast<int>(k.size()); ++j) {
          const int64_t src = t + j - half;
          if (src < 0 || src >= m) continue;
          const float* r = cur.data() + (src / f) * channels;
          const float w = k[j];
          for (int c = 0; c < channels; ++c) o[c] += w * r[c];
        }
      }
    }
    cur.swap(next);
    n = m;
  }
  return cur;
}

}  // namespace sparsewave
