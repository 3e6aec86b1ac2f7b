#include "fatchord_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "../dispatch.h"
#include "../numerics/activations.h"
#include "output_heads.h"

namespace sparsewave {

namespace {

constexpr int kChunk = 32;  // samples per hoisted batch: big enough to reuse weights, small enough for L1/L2

int round16(int n) { return (n + 15) / 16 * 16; }

int64_t count_nonzero(const DenseMatrix& m) {
  return std::count_if(m.v.begin(), m.v.end(), [](float v) { return v != 0.0f; });
}

std::vector<float> mat_vec(const DenseMatrix& m, const std::vector<float>& x) {
  std::vector<float> y(m.rows);
  for (int r = 0; r < m.rows; ++r) {
    double acc = 0;
    for (int c = 0; c < m.cols; ++c) acc += static_cast<double>(m.at(r, c)) * x[c];
    y[r] = static_cast<float>(acc);
  }
  return y;
}

// y (rows x n, ld) = A x (+= when accumulate); x has A's padded columns.
void product(const BlockSparseMatrix& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int n,
             bool accumulate, const KernelTable& k) {
  if (n == 1 && ldx == 1 && ldy == 1)
    a.spmv_padded(x, y, accumulate, 0, a.n_block_rows(), k);
  else
    a.spmm_padded(x, ldx, y, ldy, n, accumulate, 0, a.n_block_rows(), k);
}

// PyTorch GRU cell update over n = hidden * batch entries (feature-major):
// gates r, z, n are consecutive blocks of n entries in gi and gh.
void gru_update(float* h, const float* gi, const float* gh, int n) {
  for (int i = 0; i < n; ++i) {
    const float r = fast_sigmoid(gi[i] + gh[i]);
    const float z = fast_sigmoid(gi[n + i] + gh[n + i]);
    const float c = fast_tanh(gi[2 * n + i] + r * gh[2 * n + i]);
    h[i] = c + z * (h[i] - c);
  }
}

}  // namespace

struct FatchordModel::Data final : Conditioning {
  std::vector<float> mels_up;  // (frames + 2 pad) * hop x n_mels; sample t is row t + offset
  int64_t offset = 0;
  std::vector<float> aux;  // frames x res_out_dims
};

struct FatchordModel::Workspace {
  int batch = 0;
  // Hoisted per-sample terms, per stream, sample-major: [j * rows + i].
  std::vector<AlignedVector<float>> pre_gru1, pre_gru2, pre_fc0;
  std::vector<std::vector<AlignedVector<float>>> pre_fc;  // per fc (index >= 1) with an aux input
  // Hoisting temporaries, feature-major with leading dimension kChunk.
  AlignedVector<float> u, a, c, tmp;
  // Loop state, feature-major with leading dimension `batch`.
  AlignedVector<float> h1, h2, gi, gh, sum, f0, f1, logits, x;
  std::vector<float> scratch, column;
};

FatchordModel::FatchordModel(const SafetensorsFile& f, const FatchordConfig& cfg) : c_(cfg) {
  const int H = c_.rnn_dims, F = c_.fc_dims;
  resnet_.load(f, "upsample.resnet.", c_.n_mels, c_.compute_dims, c_.res_out_dims, c_.res_blocks, 2 * c_.pad + 1,
               c_.bn_eps);
  upsampler_.factors = c_.upsample_factors;
  for (std::size_t i = 0; i < c_.upsample_factors.size(); ++i) {
    const int k = c_.upsample_kernel_sizes[i];
    upsampler_.kernels.push_back(
        f.read_f32("upsample.up_layers." + std::to_string(2 * i + 1) + ".weight", {1, 1, 1, k}));
  }

  in_width_ = c_.n_mels + c_.aux_width("I");
  const DenseMatrix I = read_matrix(f, "I.weight", H, 1 + in_width_);
  i_rest_ = pack_best(I.columns(1, 1 + in_width_));
  i_bias_ = f.read_f32("I.bias", {H});
  std::vector<float> i0(H);
  for (int r = 0; r < H; ++r) i0[r] = I.at(r, 0);

  auto load_gru = [&](const std::string& n, int in_main, int aux_w, Layer& ih, BlockSparseMatrix& hh,
                      std::vector<float>& hh_bias) {
    const DenseMatrix w_ih = read_matrix(f, n + ".weight_ih_l0", 3 * H, in_main + aux_w);
    const DenseMatrix w_hh = read_matrix(f, n + ".weight_hh_l0", 3 * H, H);
    const DenseMatrix main = w_ih.columns(0, in_main);
    ih.name = n;
    ih.main = pack_best(main);
    if (aux_w) ih.aux = pack_best(w_ih.columns(in_main, in_main + aux_w));
    ih.aux_start = c_.aux_start(n);
    ih.aux_width = aux_w;
    ih.bias = f.read_f32(n + ".bias_ih_l0", {3 * H});
    ih.x_coef = mat_vec(main, i0);
    hh = pack_best(w_hh);
    hh_bias = f.read_f32(n + ".bias_hh_l0", {3 * H});
    loop_nonzero_ += count_nonzero(w_hh);
    loop_stored_ += static_cast<int64_t>(hh.n_values());
    return main;
  };
  load_gru("rnn1", H, 0, gru1_ih_, gru1_hh_, gru1_hh_bias_);
  if (c_.n_rnn == 2) {
    const DenseMatrix main = load_gru("rnn2", H, c_.aux_width("rnn2"), gru2_ih_, gru2_hh_, gru2_hh_bias_);
    loop_nonzero_ += count_nonzero(main);  // W_ih2 * h1 runs per sample
    loop_stored_ += static_cast<int64_t>(gru2_ih_.main.n_values());
  }

  for (std::size_t i = 0; i < c_.fc_names.size(); ++i) {
    const std::string& n = c_.fc_names[i];
    const int in_main = i == 0 ? H : F;
    const int out = i + 1 == c_.fc_names.size() ? c_.n_classes : F;
    const int aux_w = c_.aux_width(n);
    const DenseMatrix w = read_matrix(f, n + ".weight", out, in_main + aux_w);
    Layer l;
    l.name = n;
    const DenseMatrix main = w.columns(0, in_main);
    l.main = pack_best(main);
    if (aux_w) l.aux = pack_best(w.columns(in_main, in_main + aux_w));
    l.aux_start = c_.aux_start(n);
    l.aux_width = aux_w;
    l.bias = f.read_f32(n + ".bias", {out});
    if (i == 0) l.x_coef = mat_vec(main, i0);
    loop_nonzero_ += count_nonzero(main);
    loop_stored_ += static_cast<int64_t>(l.main.n_values());
    fc_.push_back(std::move(l));
  }
}

std::unique_ptr<Conditioning> FatchordModel::condition(const float* mels, int64_t frames) const {
  const int M = c_.n_mels, pad = c_.pad;
  auto d = std::make_unique<Data>();
  const int64_t padded_frames = frames + 2 * pad;
  std::vector<float> mp(static_cast<std::size_t>(padded_frames) * M, 0.0f);  // zero frames both sides
  std::copy(mels, mels + frames * M, mp.begin() + static_cast<std::ptrdiff_t>(pad) * M);
  d->aux = resnet_.run(mp.data(), frames);
  d->mels_up = upsampler_.run(mp, padded_frames, M);
  d->offset = static_cast<int64_t>(pad) * c_.hop_length;
  d->n_samples = frames * c_.hop_length;
  return d;
}

void FatchordModel::conditioning_arrays(const Conditioning& cond, std::vector<float>& mels_up,
                                        std::vector<float>& aux) const {
  const Data& d = static_cast<const Data&>(cond);
  const int M = c_.n_mels, R = c_.res_out_dims;
  mels_up.assign(d.mels_up.begin() + d.offset * M, d.mels_up.begin() + (d.offset + d.n_samples) * M);
  aux.resize(static_cast<std::size_t>(d.n_samples) * R);
  for (int64_t t = 0; t < d.n_samples; ++t)
    std::copy_n(d.aux.data() + (t / c_.hop_length) * R, R, aux.data() + t * R);
}

void FatchordModel::hoist_chunk(const Data& d, Workspace& w, int s, int64_t start, int len) const {
  const KernelTable& k = active_kernels();
  const int M = c_.n_mels, R = c_.res_out_dims, H = c_.rnn_dims, hop = c_.hop_length;
  auto fill_aux = [&](float* dst, int a_start, int a_width) {  // feature-major, ld kChunk
    for (int j = 0; j < len; ++j) {
      const int64_t t = start + j;
      const float* row = t < d.n_samples ? d.aux.data() + (t / hop) * R + a_start : nullptr;
      for (int q = 0; q < a_width; ++q) dst[q * kChunk + j] = row ? row[q] : 0.0f;
    }
  };
  // U = [upsampled mel; aux slice of I] for the chunk's samples.
  for (int j = 0; j < len; ++j) {
    const int64_t t = start + j;
    const float* mel = t < d.n_samples ? d.mels_up.data() + (t + d.offset) * M : nullptr;
    for (int m = 0; m < M; ++m) w.u[m * kChunk + j] = mel ? mel[m] : 0.0f;
  }
  fill_aux(w.u.data() + static_cast<std::ptrdiff_t>(M) * kChunk, c_.aux_start("I"), c_.aux_width("I"));
  // C = I_rest U + b_I: the part of I's output that does not depend on x.
  product(i_rest_, w.u.data(), kChunk, w.c.data(), kChunk, len, false, k);
  for (int i = 0; i < H; ++i)
    for (int j = 0; j < len; ++j) w.c[i * kChunk + j] += i_bias_[i];

  // Each hoisted layer: tmp = main C (+ aux part) + bias, stored sample-major.
  auto hoist = [&](const Layer& l, bool uses_c, AlignedVector<float>& dst) {
    const int rows = static_cast<int>(l.bias.size());
    if (uses_c) product(l.main, w.c.data(), kChunk, w.tmp.data(), kChunk, len, false, k);
    if (l.aux_width) {
      fill_aux(w.a.data(), l.aux_start, l.aux_width);
      product(l.aux, w.a.data(), kChunk, w.tmp.data(), kChunk, len, uses_c, k);
    }
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < len; ++j) dst[static_cast<std::size_t>(j) * rows + i] = w.tmp[i * kChunk + j] + l.bias[i];
  };
  hoist(gru1_ih_, true, w.pre_gru1[s]);
  if (c_.n_rnn == 2) hoist(gru2_ih_, true, w.pre_gru2[s]);
  hoist(fc_[0], true, w.pre_fc0[s]);
  for (std::size_t i = 1; i < fc_.size(); ++i)
    if (fc_[i].aux_width) hoist(fc_[i], false, w.pre_fc[i][s]);
}

void FatchordModel::step(Workspace& w, int B, int j, const float* x) const {
  const KernelTable& k = active_kernels();
  const int H = c_.rnn_dims, H3 = 3 * H;
  // Adds the hoisted term of stream s at chunk position j (+ x_coef * x).
  auto add_pre = [&](float* y, int rows, const std::vector<AlignedVector<float>>& pre, const std::vector<float>* coef) {
    for (int s = 0; s < B; ++s) {
      const float* p = pre[s].data() + static_cast<std::size_t>(j) * rows;
      if (coef) {
        const float xs = x[s];
        const float* cf = coef->data();
        for (int i = 0; i < rows; ++i) y[i * B + s] += p[i] + cf[i] * xs;
      } else {
        for (int i = 0; i < rows; ++i) y[i * B + s] += p[i];
      }
    }
  };
  auto add_bias = [&](float* y, const std::vector<float>& b) {
    for (std::size_t i = 0; i < b.size(); ++i)
      for (int s = 0; s < B; ++s) y[i * B + s] += b[i];
  };

  // GRU 1: gh = W_hh h + b_hh; gi = hoisted W_ih (I u + b) + b_ih + x W_ih I0.
  product(gru1_hh_, w.h1.data(), B, w.gh.data(), B, B, false, k);
  add_bias(w.gh.data(), gru1_hh_bias_);
  std::fill_n(w.gi.data(), static_cast<std::size_t>(H3) * B, 0.0f);
  add_pre(w.gi.data(), H3, w.pre_gru1, &gru1_ih_.x_coef);
  gru_update(w.h1.data(), w.gi.data(), w.gh.data(), H * B);
  std::copy_n(w.h1.data(), static_cast<std::size_t>(H) * B, w.sum.data());

  if (c_.n_rnn == 2) {  // GRU 2 sees y0 + h1 (its hoisted part covers y0 and the aux slice)
    product(gru2_ih_.main, w.h1.data(), B, w.gi.data(), B, B, false, k);
    add_pre(w.gi.data(), H3, w.pre_gru2, &gru2_ih_.x_coef);
    product(gru2_hh_, w.h2.data(), B, w.gh.data(), B, B, false, k);
    add_bias(w.gh.data(), gru2_hh_bias_);
    gru_update(w.h2.data(), w.gi.data(), w.gh.data(), H * B);
    for (int i = 0; i < H * B; ++i) w.sum[i] += w.h2[i];
  }

  // FC layers: the first sees y0 + h1 (+ h2); hidden ones are ReLU'd.
  float* in = w.sum.data();
  float* bufs[2] = {w.f0.data(), w.f1.data()};
  for (std::size_t l = 0; l < fc_.size(); ++l) {
    const Layer& layer = fc_[l];
    const bool last = l + 1 == fc_.size();
    float* out = last ? w.logits.data() : bufs[l % 2];
    const int rows = static_cast<int>(layer.bias.size());
    product(layer.main, in, B, out, B, B, false, k);
    if (l == 0)
      add_pre(out, rows, w.pre_fc0, &layer.x_coef);
    else if (layer.aux_width)
      add_pre(out, rows, w.pre_fc[l], nullptr);
    else
      add_bias(out, layer.bias);
    if (!last)
      for (int i = 0; i < rows * B; ++i) out[i] = out[i] > 0.0f ? out[i] : 0.0f;
    in = out;
  }
}

namespace {
template <class T>
void resize_zero(T& v, std::size_t n) { v.assign(n, 0.0f); }
}  // namespace

void FatchordModel::generate(const Conditioning& cond, const std::vector<StreamSpan>& spans, const UniformFn& uniform,
                             const std::vector<float*>& out, const ProgressFn& progress) const {
  const Data& d = static_cast<const Data&>(cond);
  const int B = static_cast<int>(spans.size());
  if (B == 0) return;
  const int H = c_.rnn_dims, F = c_.fc_dims, NC = c_.n_classes;
  const int maxdim = std::max({round16(in_width_), round16(c_.res_out_dims), round16(3 * H), round16(F), round16(NC)});

  Workspace w;
  w.batch = B;
  w.pre_gru1.assign(B, AlignedVector<float>(static_cast<std::size_t>(kChunk) * 3 * H));
  if (c_.n_rnn == 2) w.pre_gru2.assign(B, AlignedVector<float>(static_cast<std::size_t>(kChunk) * 3 * H));
  w.pre_fc0.assign(B, AlignedVector<float>(static_cast<std::size_t>(kChunk) * F));
  w.pre_fc.resize(fc_.size());
  for (std::size_t i = 1; i < fc_.size(); ++i)
    if (fc_[i].aux_width) w.pre_fc[i].assign(B, AlignedVector<float>(static_cast<std::size_t>(kChunk) * fc_[i].bias.size()));
  resize_zero(w.u, static_cast<std::size_t>(maxdim) * kChunk);
  resize_zero(w.a, static_cast<std::size_t>(maxdim) * kChunk);
  resize_zero(w.c, static_cast<std::size_t>(maxdim) * kChunk);
  resize_zero(w.tmp, static_cast<std::size_t>(maxdim) * kChunk);
  for (auto* v : {&w.h1, &w.h2, &w.sum, &w.f0, &w.f1}) resize_zero(*v, static_cast<std::size_t>(maxdim) * B);
  for (auto* v : {&w.gi, &w.gh, &w.logits}) resize_zero(*v, static_cast<std::size_t>(maxdim) * B);
  resize_zero(w.x, static_cast<std::size_t>(B));
  w.scratch.assign(NC, 0.0f);
  w.column.assign(NC, 0.0f);

  int64_t max_len = 0;
  for (const auto& s : spans) max_len = std::max(max_len, s.length);
  const bool mol = c_.head == "mol";
  for (int64_t pos = 0; pos < max_len; pos += kChunk) {
    const int len = static_cast<int>(std::min<int64_t>(kChunk, max_len - pos));
    for (int s = 0; s < B; ++s) hoist_chunk(d, w, s, spans[s].start + pos, len);
    for (int j = 0; j < len; ++j) {
      step(w, B, j, w.x.data());
      const int64_t t = pos + j;
      for (int s = 0; s < B; ++s) {
        const float* logits = w.logits.data();
        if (B > 1) {  // gather this stream's column
          for (int i = 0; i < NC; ++i) w.column[i] = w.logits[static_cast<std::size_t>(i) * B + s];
          logits = w.column.data();
        }
        const float u = uniform(s, t);
        float fed, emitted;
        if (mol) {
          fed = emitted = sample_mol(logits, c_.mol_n_mix, c_.mol_log_scale_min, u);
        } else {
          fed = class_to_value(sample_softmax(logits, NC, u, w.scratch.data()), NC);
          emitted = c_.mu_law ? mu_law_decode(fed, NC) : fed;
        }
        w.x[s] = fed;
        if (t < spans[s].length) out[s][t] = emitted;
      }
    }
    if (progress) progress(std::min(pos + len, max_len) * B);
  }
}

double FatchordModel::teacher_forced(const Conditioning& cond, const float* audio, int64_t n, float* logits_out) const {
  const Data& d = static_cast<const Data&>(cond);
  const int H = c_.rnn_dims, F = c_.fc_dims, NC = c_.n_classes;
  const int maxdim = std::max({round16(in_width_), round16(c_.res_out_dims), round16(3 * H), round16(F), round16(NC)});
  Workspace w;
  w.batch = 1;
  w.pre_gru1.assign(1, AlignedVector<float>(static_cast<std::size_t>(kChunk) * 3 * H));
  if (c_.n_rnn == 2) w.pre_gru2.assign(1, AlignedVector<float>(static_cast<std::size_t>(kChunk) * 3 * H));
  w.pre_fc0.assign(1, AlignedVector<float>(static_cast<std::size_t>(kChunk) * F));
  w.pre_fc.resize(fc_.size());
  for (std::size_t i = 1; i < fc_.size(); ++i)
    if (fc_[i].aux_width) w.pre_fc[i].assign(1, AlignedVector<float>(static_cast<std::size_t>(kChunk) * fc_[i].bias.size()));
  for (auto* v : {&w.u, &w.a, &w.c, &w.tmp}) resize_zero(*v, static_cast<std::size_t>(maxdim) * kChunk);
  for (auto* v : {&w.h1, &w.h2, &w.sum, &w.f0, &w.f1, &w.gi, &w.gh, &w.logits}) resize_zero(*v, static_cast<std::size_t>(maxdim));
  resize_zero(w.x, 1);

  const bool mol = c_.head == "mol";
  auto as_fed = [&](float a) {  // what the model would have fed back for this audio sample
    if (mol) return std::min(std::max(a, -1.0f), 1.0f);
    return class_to_value(value_to_class(c_.mu_law ? mu_law_encode(a, NC) : a, NC), NC);
  };
  double nll = 0;
  for (int64_t pos = 0; pos < n; pos += kChunk) {
    const int len = static_cast<int>(std::min<int64_t>(kChunk, n - pos));
    hoist_chunk(d, w, 0, pos, len);
    for (int j = 0; j < len; ++j) {
      const int64_t t = pos + j;
      w.x[0] = t == 0 ? 0.0f : as_fed(audio[t - 1]);
      step(w, 1, j, w.x.data());
      if (logits_out) std::copy_n(w.logits.data(), NC, logits_out + t * NC);
      const float target = std::min(std::max(audio[t], -1.0f), 1.0f);
      nll += mol ? mol_nll_bits(w.logits.data(), c_.mol_n_mix, c_.mol_log_scale_min, target)
                 : softmax_nll_bits(w.logits.data(), NC, value_to_class(c_.mu_law ? mu_law_encode(target, NC) : target, NC));
    }
  }
  return nll;
}

std::string FatchordModel::describe() const {
  std::string s = "{\"family\": \"fatchord\", \"matrices\": [";
  bool first = true;
  auto add = [&](const std::string& name, const BlockSparseMatrix& m, bool per_sample) {
    if (m.rows() == 0) return;
    s += std::string(first ? "" : ", ") + "{\"name\": \"" + name + "\", \"shape\": [" + std::to_string(m.rows()) + ", " +
         std::to_string(m.cols()) + "], \"block\": [" + std::to_string(m.block_rows()) + ", " +
         std::to_string(m.block_cols()) + "], \"density\": " + std::to_string(m.density()) +
         ", \"stored_values\": " + std::to_string(m.n_values()) + ", \"per_sample\": " + (per_sample ? "true" : "false") + "}";
    first = false;
  };
  add("I[:, 1:]", i_rest_, false);
  add("rnn1.weight_ih (input part)", gru1_ih_.main, false);
  add("rnn1.weight_hh", gru1_hh_, true);
  if (c_.n_rnn == 2) {
    add("rnn2.weight_ih (main part)", gru2_ih_.main, true);
    add("rnn2.weight_ih (aux part)", gru2_ih_.aux, false);
    add("rnn2.weight_hh", gru2_hh_, true);
  }
  for (const auto& l : fc_) {
    add(l.name + ".weight (main part)", l.main, true);
    add(l.name + ".weight (aux part)", l.aux, false);
  }
  s += "], \"loop_nonzero_macs\": " + std::to_string(loop_nonzero_) + ", \"loop_stored_macs\": " +
       std::to_string(loop_stored_) + "}";
  return s;
}

}  // namespace sparsewave
