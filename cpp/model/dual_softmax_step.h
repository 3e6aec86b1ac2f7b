// The dual-softmax cell's step (a template over how c_t is picked: drawn,
// or the teacher's), included by each family that runs the cell.
#pragma once
#include <algorithm>

#include "kernels/dispatch.h"
#include "model/dual_softmax_state.h"
#include "model/sample_bytes.h"

namespace sparsewave {

template <class PickCoarse>
void DualSoftmaxModel::step(Workspace& w, const Data& d, int first, int count, const float* extra,
                            PickCoarse pick_coarse) const {
  const KernelTable& k = active_kernels();
  const int N = c_.hidden, half = N / 2, rows = 3 * N, hop = c_.hop_length;
  const std::ptrdiff_t ld = w.ld;
  const int end = first + count;
  const std::ptrdiff_t at = first * ld;  // the streams' slab in every stream-major buffer
  auto product = [&](const BlockSparseMatrix& m, const float* x, float* y) {
    m.spmv_streams_padded(x, y, count, ld, false, k, w.multi_vector);
  };
  auto head = [&](const BlockSparseMatrix& a, const std::vector<float>& ba, const BlockSparseMatrix& b,
                  const std::vector<float>& bb, const float* y, float* logits) {
    float* hidden = w.hidden.data() + at;
    product(a, y + at, hidden);
    for (int s = 0; s < count; ++s)
      for (std::size_t i = 0; i < ba.size(); ++i) hidden[s * ld + i] += ba[i];
    // Rows past output_hidden are zero (padding rows of a), so relu stops there.
    const int width = static_cast<int>(std::min<std::ptrdiff_t>(ld, round16(c_.output_hidden)));
    for (int s = 0; s < count; ++s) k.elementwise.relu(hidden + s * ld, width);
    product(b, hidden, logits + at);
    for (int s = first; s < end; ++s)
      for (int i = 0; i < 256; ++i) logits[s * ld + i] += bb[i];
  };

  product(r_, w.h.data() + at, w.gh.data() + at);  // R h over the whole state, once
  for (int s = first; s < end; ++s) {
    // pre = const bias + the upsampling taps' Z rows + I's two previous-byte
    // columns, in one pass over the 3N rows (one weighted sum, not a pass per term).
    int n_terms = 0;
    w.terms[n_terms] = const_bias_.data();
    w.term_weights[n_terms++] = 1.0f;
    const int64_t t = w.t[s];
    if (t < d.n_samples) {
      const int64_t frame = t / hop;
      for (const PolyphaseTap& tap : taps_[static_cast<std::size_t>(t % hop)]) {
        const int64_t src = frame - tap.frame_back;
        if (src < d.z_first || src >= d.z_end) continue;  // zero padding outside the utterance
        w.terms[n_terms] = d.z.data() + (src - d.z_first) * rows;
        w.term_weights[n_terms++] = tap.weight;
      }
    }
    w.terms[n_terms] = in_prev_c_.data();
    w.term_weights[n_terms++] = byte_input(w.coarse[s]);
    w.terms[n_terms] = in_prev_f_.data();
    w.term_weights[n_terms++] = byte_input(w.fine[s]);
    if (extra) {
      w.terms[n_terms] = extra + s * ld;
      w.term_weights[n_terms++] = 1.0f;
    }
    float* pre = w.pre.data() + s * ld;
    k.elementwise.weighted_sum(pre, rows, w.terms.data(), w.term_weights.data(), n_terms, false);
    // R's bias joins gh inside the gate update (r = sigmoid(gi_r + (gh_r + b_r))).
    k.elementwise.gru_update(w.h.data() + s * ld, pre, w.gh.data() + s * ld, r_bias_.data(), half);  // coarse half
  }
  head(o1_, b1_, o2_, b2_, w.h.data(), w.logits_c.data());
  pick_coarse();  // sets w.coarse[s] = c_t
  for (int s = first; s < end; ++s) {
    float* pre = w.pre.data() + s * ld + 3 * half;
    const float xc = byte_input(w.coarse[s]);
    for (int i = 0; i < 3 * half; ++i) pre[i] += in_cur_c_[3 * half + i] * xc;
    k.elementwise.gru_update(w.h.data() + s * ld + half, pre, w.gh.data() + s * ld + 3 * half, r_bias_.data() + 3 * half,
                             half);  // fine half
  }
  head(o3_, b3_, o4_, b4_, w.h.data() + half, w.logits_f.data());
}

}  // namespace sparsewave
