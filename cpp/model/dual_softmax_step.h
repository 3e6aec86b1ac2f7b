// The dual-softmax cell's step (a template over how each part's byte is
// picked: drawn, or the teacher's), included by each family that runs the
// cell.
#pragma once
#include <algorithm>

#include "kernels/dispatch.h"
#include "model/dual_softmax_state.h"
#include "model/sample_bytes.h"

namespace sparsewave {

template <class PickByte>
void DualSoftmaxModel::step(Workspace& w, const Data& d, int first, int count, const float* extra,
                            PickByte pick_byte) const {
  const KernelTable& k = active_kernels();
  const int N = c_.hidden, P = c_.parts, part = N / P, rows = 3 * N, hop = c_.hop_length;
  const std::ptrdiff_t ld = w.ld;
  const int end = first + count;
  const std::ptrdiff_t at = first * ld;  // the streams' slab in every stream-major buffer
  auto product = [&](const BlockSparseMatrix& m, const float* x, float* y) {
    m.spmv_streams_padded(x, y, count, ld, false, k, w.multi_vector);
  };
  auto head = [&](int p) {  // part p's logits: O_{2p+2} relu(O_{2p+1} h_p + b) + b
    const BlockSparseMatrix &a = heads_[2 * p], &b = heads_[2 * p + 1];
    const std::vector<float>&ba = head_bias_[2 * p], &bb = head_bias_[2 * p + 1];
    float* hidden = w.hidden.data() + at;
    float* logits = w.logits[p].data();
    product(a, w.h.data() + p * part + at, hidden);
    // Biases through the ISA's weighted sum (weight 1: the same bits as a plain add).
    const float one = 1.0f;
    const float* bias_a = ba.data();
    const float* bias_b = bb.data();
    for (int s = 0; s < count; ++s)
      k.elementwise.weighted_sum(hidden + s * ld, static_cast<int>(ba.size()), &bias_a, &one, 1, true);
    // Rows past output_hidden are zero (padding rows of a), so relu stops there.
    const int width = static_cast<int>(std::min<std::ptrdiff_t>(ld, round16(c_.output_hidden)));
    for (int s = 0; s < count; ++s) k.elementwise.relu(hidden + s * ld, width);
    product(b, hidden, logits + at);
    for (int s = first; s < end; ++s) k.elementwise.weighted_sum(logits + s * ld, 256, &bias_b, &one, 1, true);
  };
  // Part p's GRU update on its rows [3 part p, 3 part (p + 1)) of the internal gate order.
  auto update = [&](int s, int p) {
    const std::ptrdiff_t g = 3 * static_cast<std::ptrdiff_t>(part) * p;
    k.elementwise.gru_update(w.h.data() + s * ld + p * part, w.pre.data() + s * ld + g, w.gh.data() + s * ld + g,
                             r_bias_.data() + g, part);
  };

  product(r_, w.h.data() + at, w.gh.data() + at);  // R h over the whole state, once
  for (int s = first; s < end; ++s) {
    // pre = const bias + the upsampling taps' Z rows + I's previous-byte
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
    for (int q = 0; q < P; ++q) {
      w.terms[n_terms] = in_prev_[q].data();
      w.term_weights[n_terms++] = byte_input(w.bytes[q][s]);
    }
    if (extra) {
      w.terms[n_terms] = extra + s * ld;
      w.term_weights[n_terms++] = 1.0f;
    }
    float* pre = w.pre.data() + s * ld;
    k.elementwise.weighted_sum(pre, rows, w.terms.data(), w.term_weights.data(), n_terms, false);
    // R's bias joins gh inside the gate update (r = sigmoid(gi_r + (gh_r + b_r))).
    update(s, 0);
  }
  head(0);
  for (int p = 1; p < P; ++p) {
    pick_byte(p - 1);  // sets w.bytes[p - 1][s], the byte part p now sees
    for (int s = first; s < end; ++s) {
      // The bytes of this step's earlier parts (masked I columns) reach part p's rows only now.
      for (int q = 0; q < p; ++q) {
        w.terms[q] = in_cur_[q].data() + 3 * part * p;
        w.term_weights[q] = byte_input(w.bytes[q][s]);
      }
      k.elementwise.weighted_sum(w.pre.data() + s * ld + 3 * part * p, 3 * part, w.terms.data(),
                                 w.term_weights.data(), p, true);
      update(s, p);
    }
    head(p);
  }
}

}  // namespace sparsewave
