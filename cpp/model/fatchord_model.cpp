#include "model/fatchord_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "format/matrix_reader.h"
#include "kernels/dispatch.h"
#include "matrix/block_choice.h"
#include "model/load_budget.h"
#include "model/loop_matrix.h"
#include "model/output_heads.h"

namespace sparsewave {

namespace {

// The conditioning tables the constructor will build (load_budget.h),
// checked before any matrix is read.
void check_tables(const FatchordConfig& c, LoadBudget& budget) {
  const int64_t H = c.rnn_dims, M = c.n_mels;
  budget.add_table("I's aux columns (rnn_dims x aux width)", H, c.aux_width("I"));
  budget.add_table("rnn1's n_mels projection (3 rnn_dims x n_mels)", 3 * H, M);
  if (c.n_rnn == 2) budget.add_table("rnn2's n_mels projection (3 rnn_dims x n_mels)", 3 * H, M);
  budget.add_table("the first fc layer's n_mels projection (fc_dims x n_mels)", c.fc_dims, M);
}

}  // namespace

// Frames [first_frame, frames) of an utterance (samples first_sample / hop
// to n_samples / hop). Padded row p is frame p - pad.
struct FatchordModel::Data final : Conditioning {
  int64_t first_frame = 0, frames = 0;
  std::vector<float> aux;             // (frames - first_frame) x res_out_dims
  int64_t z_first = 0;                // first padded row held in z
  std::vector<std::vector<float>> z;  // per hoisted layer: padded rows [z_first, ...) x rows
  std::vector<std::vector<float>> q;  // per hoisted layer: (frames - first_frame) x rows
  std::vector<float> padded_mels;     // condition() only (conditioning_arrays): (frames + 2 pad) x n_mels
};

// Streaming state: the padded mel rows the MelResNet windows of the next
// frames need, and the Z rows the upsampling taps of their samples read.
struct FatchordModel::Incremental final : ConditioningStream {
  int64_t rows_in = 0;                // padded rows so far (the leading zero pad included)
  int64_t rows_first = 0;             // first padded row held in rows
  std::vector<float> rows;            // padded mel rows [rows_first, rows_in) x n_mels
  int64_t z_first = 0;                // first padded row held in z
  std::vector<std::vector<float>> z;  // per hoisted layer: Z of padded rows [z_first, rows_in)
  int64_t frames_done = 0;            // frames handed out (final_samples / hop)
};

// Loop state for B streams, stream-major: stream s's vector starts at s * ld.
struct FatchordModel::Workspace : GenerationState {
  std::ptrdiff_t ld = 0;
  AlignedVector<float> h1, h2, gi, gh, sum, f0, f1, logits, x;
  std::vector<float> scratch;
  std::vector<int64_t> t;
  std::vector<const float*> terms;  // add_hoisted's weighted-sum terms, allocated once
  std::vector<float> term_weights;
};

FatchordModel::FatchordModel(const SafetensorsFile& f, const FatchordConfig& cfg, const LoadOptions& opt)
    : c_(cfg), tail_cut_(effective_tail_cut(cfg, opt.tail_cut)), softmax_cut_(tail_cut_logit_gap(tail_cut_)) {
  if (c_.head == "mol" && tail_cut_ > 0.0)
    throw std::invalid_argument("tail_cut applies to softmax heads; this model draws from a mixture of logistics");
  LoopPrecision precision(opt, f);  // for the matrices the sample loop streams
  const int H = c_.rnn_dims, F = c_.fc_dims, M = c_.n_mels;
  LoadBudget budget;
  check_tables(c_, budget);
  resnet_.load(f, "upsample.resnet.", M, c_.compute_dims, c_.res_out_dims, c_.res_blocks, 2 * c_.pad + 1, c_.bn_eps);
  upsampler_.factors = c_.upsample_factors;
  for (std::size_t i = 0; i < c_.upsample_factors.size(); ++i) {
    const int k = c_.upsample_kernel_sizes[i];
    upsampler_.kernels.push_back(f.read_f32("upsample.up_layers." + std::to_string(2 * i + 1) + ".weight", {1, 1, 1, k}));
  }
  budget.add_macs("the upsampling taps", polyphase_taps_macs(upsampler_));
  init_upsample_taps();

  const int in_width = M + c_.aux_width("I");
  const CsrMatrix I = read_matrix(f, "I.weight", H, 1 + in_width);
  i_bias_ = f.read_f32("I.bias", {H});
  const CsrMatrix i_mel = I.columns(1, 1 + M);
  i_aux_ = I.columns(1 + M, 1 + in_width).to_dense();
  const std::vector<float> i0 = I.column(0);

  // Registers a layer whose input-side term is hoisted out of the loop.
  auto hoist = [&](const Layer& layer, const CsrMatrix* main_through_i) {
    Hoisted h;
    h.layer = &layer;
    h.through_i = main_through_i != nullptr;
    h.q_zero = layer.bias;
    if (main_through_i) {
      const CsrMatrix& m = *main_through_i;
      // main * I_mel in double, rounded once; sparse, so its work follows
      // the nonzeros the file holds.
      budget.add_macs(layer.name + "'s n_mels projection", product_macs(m, i_mel));
      h.mel_proj = ColumnMajorMatrix::from(dense_product(m, i_mel));
      h.x_coef = m.times(i0);
      if (layer.main.int8()) h.per_frame = pack_best(m);
      const auto mb = m.times(i_bias_);
      for (int r = 0; r < m.rows(); ++r) h.q_zero[r] += mb[r];
    }
    hoisted_.push_back(std::move(h));
    return static_cast<int>(hoisted_.size()) - 1;
  };

  auto load_gru = [&](const std::string& n, int aux_w, Layer& ih, BlockSparseMatrix& hh, std::vector<float>& hh_bias) {
    const FileMatrix w_ih = read_file_matrix(f, n + ".weight_ih_l0", 3 * H, H + aux_w);
    const FileMatrix w_hh = read_file_matrix(f, n + ".weight_hh_l0", 3 * H, H);
    CsrMatrix main;
    ih.name = n;
    if (n == "rnn2") {  // rnn2's W_ih h1 runs per sample; rnn1's input side is all hoisted
      LoopMatrix lm = loop_matrix(w_ih, n + ".weight_ih_l0", H, precision.of(n + ".weight_ih_l0"));
      ih.main = std::move(lm.packed);
      main = std::move(lm.weights);
    } else {
      main = w_ih.values.columns(0, H);
      ih.main = pack_best(main);
    }
    if (aux_w) ih.aux = pack_best(w_ih.values.columns(H, H + aux_w));
    ih.aux_start = c_.aux_start(n);
    ih.aux_width = aux_w;
    ih.bias = f.read_f32(n + ".bias_ih_l0", {3 * H});
    LoopMatrix lm_hh = loop_matrix(w_hh, n + ".weight_hh_l0", H, precision.of(n + ".weight_hh_l0"));
    hh = std::move(lm_hh.packed);
    hh_bias = f.read_f32(n + ".bias_hh_l0", {3 * H});
    loop_.add(lm_hh.weights, hh);
    return main;
  };
  fc_.reserve(c_.fc_names.size());  // hoisted_ keeps pointers into fc_
  const CsrMatrix gru1_main = load_gru("rnn1", 0, gru1_ih_, gru1_hh_, gru1_hh_bias_);
  hoist(gru1_ih_, &gru1_main);
  if (c_.n_rnn == 2) {
    const CsrMatrix gru2_main = load_gru("rnn2", c_.aux_width("rnn2"), gru2_ih_, gru2_hh_, gru2_hh_bias_);
    // GRU 2 sees y0 + h1: the y0 part is hoisted, W_ih2 h1 runs per sample.
    hoisted_gru2_ = hoist(gru2_ih_, &gru2_main);
    loop_.add(gru2_main, gru2_ih_.main);
  }
  hoisted_fc_.assign(c_.fc_names.size(), -1);
  for (std::size_t i = 0; i < c_.fc_names.size(); ++i) {
    const std::string& n = c_.fc_names[i];
    const int in_main = i == 0 ? H : F;
    const int out = i + 1 == c_.fc_names.size() ? c_.n_classes : F;
    const int aux_w = c_.aux_width(n);
    const FileMatrix w = read_file_matrix(f, n + ".weight", out, in_main + aux_w);
    Layer l;
    l.name = n;
    LoopMatrix lm = loop_matrix(w, n + ".weight", in_main, precision.of(n + ".weight"));
    const CsrMatrix main = std::move(lm.weights);
    l.main = std::move(lm.packed);
    if (aux_w) l.aux = pack_best(w.values.columns(in_main, in_main + aux_w));
    l.aux_start = c_.aux_start(n);
    l.aux_width = aux_w;
    l.bias = f.read_f32(n + ".bias", {out});
    loop_.add(main, l.main);
    fc_.push_back(std::move(l));
    // The first fc sees y0 + h1 (+ h2): its y0 part is hoisted like a GRU input.
    if (i == 0) hoisted_fc_[i] = hoisted_fc0_ = hoist(fc_.back(), &main);
    else if (aux_w) hoisted_fc_[i] = hoist(fc_.back(), nullptr);
  }
  precision.check_names();
}

void FatchordModel::init_upsample_taps() {
  // The polyphase form equals the stage-by-stage upsampling for every kept
  // sample when the filters' reach stays inside the pad frames, which are
  // dropped (true of fatchord's and geneing's configs).
  const int64_t reach = upsampler_.reach(), limit = static_cast<int64_t>(c_.pad) * c_.hop_length;
  if (reach > limit)
    throw std::invalid_argument("config: the upsampling filters reach " + std::to_string(reach) +
                                " samples, more than pad * hop_length = " + std::to_string(limit) +
                                "; such a model is not supported");
  taps_ = polyphase_taps(upsampler_);
  tap_reach_ = tap_reach(taps_);  // within pad frames either side, given the check above
}

std::unique_ptr<Conditioning> FatchordModel::condition(const float* mels, int64_t frames) const {
  // The streaming path with every frame at once: one way to condition.
  auto stream = start_conditioning();
  std::unique_ptr<Conditioning> cond = extend_conditioning(*stream, mels, frames, true);
  if (!cond) cond = std::make_unique<Data>();  // no frames
  Data& d = static_cast<Data&>(*cond);
  const int M = c_.n_mels;
  d.padded_mels.assign(static_cast<std::size_t>(frames + 2 * c_.pad) * M, 0.0f);  // zero frames both sides
  std::copy(mels, mels + frames * M, d.padded_mels.begin() + static_cast<std::ptrdiff_t>(c_.pad) * M);
  return cond;
}

std::unique_ptr<ConditioningStream> FatchordModel::start_conditioning() const {
  auto s = std::make_unique<Incremental>();
  s->z.resize(hoisted_.size());
  append_rows(*s, nullptr, c_.pad);  // the leading zero frames
  return s;
}

void FatchordModel::append_rows(Incremental& s, const float* mels, int64_t n) const {
  const int M = c_.n_mels;
  const std::size_t first = s.rows.size();
  if (mels)
    s.rows.insert(s.rows.end(), mels, mels + n * M);
  else
    s.rows.resize(first + static_cast<std::size_t>(n) * M, 0.0f);
  // Z(p) = mel_proj * padded row p, one row at a time.
  for (std::size_t h = 0; h < hoisted_.size(); ++h) {
    const Hoisted& hz = hoisted_[h];
    if (!hz.through_i) continue;
    const int rows = static_cast<int>(hz.layer->bias.size());
    auto& z = s.z[h];
    const std::size_t z_end = z.size();
    z.resize(z_end + static_cast<std::size_t>(n) * rows);
    for (int64_t f = 0; f < n; ++f)
      hz.mel_proj.times(s.rows.data() + first + f * M, nullptr, z.data() + z_end + f * rows);
  }
  s.rows_in += n;
}

std::unique_ptr<Conditioning> FatchordModel::extend_conditioning(ConditioningStream& stream, const float* mels,
                                                                 int64_t n, bool last) const {
  auto& s = static_cast<Incremental&>(stream);
  if (s.finished) throw std::invalid_argument("conditioning: frames after the last one");
  const int M = c_.n_mels, pad = c_.pad, hop = c_.hop_length;
  if (n > 0) {
    append_rows(s, mels, n);
    s.frames_in += n;
  }
  if (last) {
    append_rows(s, nullptr, pad);  // the trailing zero frames
    s.finished = true;
  }
  const int64_t ready = s.finished ? s.frames_in : std::max(s.frames_done, s.frames_in - lookahead_frames());
  if (ready <= s.frames_done) return nullptr;
  auto d = std::make_unique<Data>();
  d->first_frame = s.frames_done;
  d->frames = ready;
  d->first_sample = s.frames_done * hop;
  d->n_samples = ready * hop;
  // The MelResNet window of frame f is padded rows [f, f + 2 pad].
  d->aux = resnet_.run(s.rows.data() + (s.frames_done - s.rows_first) * M, ready - s.frames_done);
  fill_q(*d);
  // The Z rows held go with these samples (their taps read them); the state
  // keeps a copy of those that later frames' taps still read.
  const int64_t keep_z = std::max<int64_t>(s.z_first, ready + pad - tap_reach_.back);
  d->z_first = s.z_first;
  d->z.resize(hoisted_.size());
  for (std::size_t h = 0; h < hoisted_.size(); ++h) {
    if (!hoisted_[h].through_i) continue;
    const std::ptrdiff_t rows = static_cast<std::ptrdiff_t>(hoisted_[h].layer->bias.size());
    std::vector<float> kept(s.z[h].begin() + (keep_z - s.z_first) * rows, s.z[h].end());
    d->z[h] = std::move(s.z[h]);
    s.z[h] = std::move(kept);
  }
  s.z_first = keep_z;
  s.rows.erase(s.rows.begin(), s.rows.begin() + (ready - s.rows_first) * M);
  s.rows_first = ready;
  s.frames_conditioned += ready - s.frames_done;
  s.frames_done = ready;
  s.final_samples = d->n_samples;
  return d;
}

void FatchordModel::fill_q(Data& d) const {
  const int R = c_.res_out_dims, H = c_.rnn_dims;
  const int64_t frames = d.frames - d.first_frame;
  // c(f) = I_aux aux_I(f) + b_I per frame, one padded row per frame. Each
  // frame is computed on its own (spmv_many), so a frame's values do not
  // depend on how many frames there are: streaming matches whole-utterance
  // synthesis bit for bit.
  const int a_i = c_.aux_width("I"), a_i0 = c_.aux_start("I");
  const std::ptrdiff_t ldc = round16(H);
  std::vector<float> c(static_cast<std::size_t>(ldc) * frames, 0.0f);
  for (int64_t f = 0; f < frames; ++f)
    for (int r = 0; r < H; ++r) {
      double acc = i_bias_[r];
      for (int q = 0; q < a_i; ++q) acc += static_cast<double>(i_aux_.at(r, q)) * d.aux[f * R + a_i0 + q];
      c[f * ldc + r] = static_cast<float>(acc);
    }
  const KernelTable& k = active_kernels();
  d.q.resize(hoisted_.size());
  std::vector<float> tmp, a;
  for (std::size_t h = 0; h < hoisted_.size(); ++h) {
    const Hoisted& hz = hoisted_[h];
    const Layer& l = *hz.layer;
    const int rows = static_cast<int>(l.bias.size());
    // q(f) = main c(f) + aux_part aux_L(f) + bias.
    const std::ptrdiff_t ldt = round16(rows);
    tmp.assign(static_cast<std::size_t>(ldt) * frames, 0.0f);
    const BlockSparseMatrix& main = hz.per_frame.rows() > 0 ? hz.per_frame : l.main;
    if (hz.through_i) main.spmv_many_padded(c.data(), ldc, tmp.data(), ldt, static_cast<int>(frames), false, k);
    if (l.aux_width) {
      const std::ptrdiff_t lda = round16(l.aux_width);
      a.assign(static_cast<std::size_t>(lda) * frames, 0.0f);
      for (int64_t f = 0; f < frames; ++f)
        std::copy_n(d.aux.data() + f * R + l.aux_start, l.aux_width, a.data() + f * lda);
      l.aux.spmv_many_padded(a.data(), lda, tmp.data(), ldt, static_cast<int>(frames), hz.through_i, k);
    }
    auto& qv = d.q[h];
    qv.resize(static_cast<std::size_t>(frames) * rows);
    for (int64_t f = 0; f < frames; ++f)
      for (int r = 0; r < rows; ++r) qv[f * rows + r] = tmp[f * ldt + r] + l.bias[r];
  }
}

void FatchordModel::conditioning_arrays(const Conditioning& cond, std::vector<float>& mels_up,
                                        std::vector<float>& aux) const {
  const Data& d = static_cast<const Data&>(cond);
  if (d.first_frame != 0 || d.padded_mels.size() != static_cast<std::size_t>(d.frames + 2 * c_.pad) * c_.n_mels)
    throw std::invalid_argument("conditioning_arrays needs a whole utterance's conditioning (condition())");
  const int M = c_.n_mels, R = c_.res_out_dims;
  const int64_t offset = static_cast<int64_t>(c_.pad) * c_.hop_length;
  const std::vector<float> up = upsampler_.run(d.padded_mels, d.frames + 2 * c_.pad, M);
  mels_up.assign(up.begin() + offset * M, up.begin() + (offset + d.n_samples) * M);
  aux.resize(static_cast<std::size_t>(d.n_samples) * R);
  for (int64_t t = 0; t < d.n_samples; ++t) std::copy_n(d.aux.data() + (t / c_.hop_length) * R, R, aux.data() + t * R);
}

void FatchordModel::add_hoisted(std::size_t h, const Data& d, const int64_t* t, const float* x, int B, float* out,
                                bool accumulate, Workspace& w) const {
  const Hoisted& hz = hoisted_[h];
  const int rows = static_cast<int>(hz.layer->bias.size());
  const int hop = c_.hop_length;
  const KernelTable& k = active_kernels();
  // One weighted sum of rows per stream: Q (weight 1), the phase's taps on
  // Z, then x_coef (weight x), added in that order.
  const float** src = w.terms.data();
  float* weight = w.term_weights.data();
  for (int s = 0; s < B; ++s) {
    int n = 0;
    if (t[s] < d.n_samples) {
      const int64_t frame = t[s] / hop;
      src[n] = d.q[h].data() + (frame - d.first_frame) * rows;
      weight[n++] = 1.0f;
      if (hz.through_i) {
        const int64_t centre = frame + c_.pad;
        for (const PolyphaseTap& tap : taps_[static_cast<std::size_t>(t[s] % hop)]) {
          src[n] = d.z[h].data() + (centre - tap.frame_back - d.z_first) * rows;
          weight[n++] = tap.weight;
        }
      }
    } else {
      src[n] = hz.q_zero.data();  // past the end: zero conditioning
      weight[n++] = 1.0f;
    }
    if (hz.through_i) {
      src[n] = hz.x_coef.data();
      weight[n++] = x[s];
    }
    k.elementwise.weighted_sum(out + s * w.ld, rows, src, weight, n, accumulate);
  }
}

FatchordModel::Workspace FatchordModel::make_workspace(int B) const {
  const int dim = std::max({round16(3 * c_.rnn_dims), round16(c_.fc_dims), round16(c_.n_classes)});
  Workspace w;
  w.ld = dim;
  for (auto* v : {&w.h1, &w.h2, &w.gi, &w.gh, &w.sum, &w.f0, &w.f1, &w.logits})
    v->assign(static_cast<std::size_t>(dim) * B, 0.0f);
  w.x.assign(B, 0.0f);
  w.scratch.assign(c_.n_classes, 0.0f);
  w.t.assign(B, 0);
  std::size_t taps = 0;
  for (const auto& phase : taps_) taps = std::max(taps, phase.size());
  w.terms.assign(taps + 2, nullptr);  // Q, the taps, x_coef
  w.term_weights.assign(taps + 2, 0.0f);
  return w;
}

void FatchordModel::step(Workspace& w, const Data& d, int B, const int64_t* t, const float* x) const {
  const KernelTable& k = active_kernels();
  const int H = c_.rnn_dims, F = c_.fc_dims;
  const std::ptrdiff_t ld = w.ld;

  // GRU 1: gh = W_hh h (its bias goes in with the gate update); gi = the
  // hoisted input term (+ x W_ih I0).
  gru1_hh_.spmv_streams_padded(w.h1.data(), w.gh.data(), B, ld, false, k, w.multi_vector);
  add_hoisted(0, d, t, x, B, w.gi.data(), false, w);
  for (int s = 0; s < B; ++s)
    k.elementwise.gru_update(w.h1.data() + s * ld, w.gi.data() + s * ld, w.gh.data() + s * ld,
                             gru1_hh_bias_.data(), H);
  const float* in = w.h1.data();  // the first fc layer's input: h1 (+ h2)

  if (c_.n_rnn == 2) {
    gru2_ih_.main.spmv_streams_padded(w.h1.data(), w.gi.data(), B, ld, false, k, w.multi_vector);
    add_hoisted(static_cast<std::size_t>(hoisted_gru2_), d, t, x, B, w.gi.data(), true, w);
    gru2_hh_.spmv_streams_padded(w.h2.data(), w.gh.data(), B, ld, false, k, w.multi_vector);
    const float ones[2] = {1.0f, 1.0f};
    for (int s = 0; s < B; ++s) {
      float* h2 = w.h2.data() + s * ld;
      k.elementwise.gru_update(h2, w.gi.data() + s * ld, w.gh.data() + s * ld, gru2_hh_bias_.data(), H);
      const float* parts[2] = {w.h1.data() + s * ld, h2};
      k.elementwise.weighted_sum(w.sum.data() + s * ld, H, parts, ones, 2, false);  // h1 + h2
    }
    in = w.sum.data();
  }

  float* bufs[2] = {w.f0.data(), w.f1.data()};
  for (std::size_t l = 0; l < fc_.size(); ++l) {
    const Layer& layer = fc_[l];
    const bool last = l + 1 == fc_.size();
    float* out = last ? w.logits.data() : bufs[l % 2];
    layer.main.spmv_streams_padded(in, out, B, ld, false, k, w.multi_vector);
    if (hoisted_fc_[l] >= 0) {
      add_hoisted(static_cast<std::size_t>(hoisted_fc_[l]), d, t, x, B, out, true, w);
    } else {
      const float* bias = layer.bias.data();
      const float one = 1.0f;
      for (int s = 0; s < B; ++s)
        k.elementwise.weighted_sum(out + s * ld, static_cast<int>(layer.bias.size()), &bias, &one, 1, true);
    }
    // Rows past F are the product's zero padding rows (no bias): left alone.
    if (!last)
      for (int s = 0; s < B; ++s) k.elementwise.relu(out + s * ld, F);
    in = out;
  }
}

std::unique_ptr<GenerationState> FatchordModel::start_generation(int batch) const {
  return std::make_unique<Workspace>(make_workspace(batch));
}

int FatchordModel::lookahead_frames() const {
  // The MelResNet's first conv sees pad frames ahead; the upsampling taps
  // read Z (a projection of the mel frame alone) up to tap_reach_.ahead
  // frames ahead.
  return std::max(c_.pad, tap_reach_.ahead);
}

void FatchordModel::continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans,
                                        GenerationState& state, int64_t n_steps, const UniformFn& uniform,
                                        const std::vector<float*>& out, const ProgressFn& progress) const {
  const Data& d = static_cast<const Data&>(cond);
  Workspace& w = static_cast<Workspace&>(state);
  const int B = static_cast<int>(spans.size());
  const int NC = c_.n_classes;
  const KernelTable& k = active_kernels();
  const bool mol = c_.head == "mol";
  const int64_t first = w.step;
  for (int64_t i = 0; i < n_steps; ++i) {
    const int64_t j = first + i;
    for (int s = 0; s < B; ++s) w.t[s] = spans[s].start + j;
    step(w, d, B, w.t.data(), w.x.data());
    for (int s = 0; s < B; ++s) {
      const float* logits = w.logits.data() + s * w.ld;
      const float u = uniform(s, j);
      float fed, emitted;
      if (mol) {
        fed = emitted = sample_mol(logits, c_.mol_n_mix, c_.mol_log_scale_min, u);
      } else {
        fed = class_to_value(k.elementwise.sample_softmax(logits, NC, u, softmax_cut_, w.scratch.data()), NC);
        emitted = c_.mu_law ? mu_law_decode(fed, NC) : fed;
      }
      w.x[s] = fed;
      if (j < spans[s].length) out[s][i] = emitted;
    }
    w.step = j + 1;
    if (!report_progress(progress, i + 1, n_steps, B)) return;  // cancelled
  }
}

double FatchordModel::teacher_forced(const Conditioning& cond, const float* audio, int64_t n, float* logits_out) const {
  const Data& d = static_cast<const Data&>(cond);
  const int NC = c_.n_classes;
  Workspace w = make_workspace(1);
  const bool mol = c_.head == "mol";
  auto as_class = [&](float a) { return value_to_class(c_.mu_law ? mu_law_encode(a, NC) : a, NC); };
  double nll = 0;
  for (int64_t t = 0; t < n; ++t) {
    // Step t is fed what the model would have fed back for audio[t - 1].
    const float prev = t == 0 ? 0.0f : std::min(std::max(audio[t - 1], -1.0f), 1.0f);
    w.x[0] = t == 0 ? 0.0f : (mol ? prev : class_to_value(as_class(prev), NC));
    w.t[0] = t;
    step(w, d, 1, w.t.data(), w.x.data());
    if (logits_out) std::copy_n(w.logits.data(), NC, logits_out + t * NC);
    const float target = std::min(std::max(audio[t], -1.0f), 1.0f);
    nll += mol ? mol_nll_bits(w.logits.data(), c_.mol_n_mix, c_.mol_log_scale_min, target)
               : softmax_nll_bits(w.logits.data(), NC, as_class(target));
  }
  return nll;
}

std::string FatchordModel::describe() const {
  std::vector<std::string> matrices;
  auto add = [&](const std::string& name, const BlockSparseMatrix& m) {
    if (m.rows() > 0) matrices.push_back(matrix_json(name, m, true));
  };
  add("rnn1.weight_hh", gru1_hh_);
  if (c_.n_rnn == 2) {
    add("rnn2.weight_ih (h1 part)", gru2_ih_.main);
    add("rnn2.weight_hh", gru2_hh_);
  }
  for (const auto& l : fc_) add(l.name + ".weight (per-sample part)", l.main);
  return describe_json("fatchord", matrices, loop_,
                       ", \"upsample_taps_per_sample\": " + std::to_string(taps_.empty() ? 0 : taps_[0].size()));
}

}  // namespace sparsewave
