// The paper's WaveRNN ("Efficient Neural Audio Synthesis", Kalchbrenner et
// al. 2018): one GRU-like cell whose state is split into a coarse and a fine
// half, and a dual softmax over the coarse and fine bytes of a 16-bit sample.
//
// Per step: one block-sparse product R h over the whole state; the coarse
// half's gates -> P(c_t) = softmax(O2 relu(O1 y_c)) -> sample c_t; then the
// fine half, whose input also sees c_t -> P(f_t) = softmax(O4 relu(O3 y_f)).
// Conditioning (mels, upsampled by repeat or repeat + smoothing conv) is
// projected into the gate pre-activations once per frame, outside the loop.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "matrix/block_sparse_matrix.h"
#include "model/conditioning_net.h"
#include "model/dual_softmax_config.h"
#include "model/matrix_report.h"
#include "model/model.h"

namespace sparsewave {

class DualSoftmaxModel : public Model {
 public:
  DualSoftmaxModel(const SafetensorsFile& file, const DualSoftmaxConfig& config, const LoadOptions& options = {});

  std::string family() const override { return "dual_softmax"; }
  int sample_rate() const override { return c_.sample_rate; }
  int hop_length() const override { return c_.hop_length; }
  int n_mels() const override { return c_.n_mels; }
  int n_classes() const override { return 512; }  // coarse 256 | fine 256
  int uniforms_per_sample() const override { return 2; }
  double tail_cut() const override { return tail_cut_; }

  std::unique_ptr<Conditioning> condition(const float* mels, int64_t frames) const override;
  std::unique_ptr<ConditioningStream> start_conditioning() const override;
  std::unique_ptr<Conditioning> extend_conditioning(ConditioningStream& stream, const float* mels, int64_t frames,
                                                    bool last) const override;
  std::unique_ptr<GenerationState> start_generation(int batch) const override;
  void continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans, GenerationState& state,
                           int64_t n_steps, const UniformFn& uniform, const std::vector<float*>& out,
                           const ProgressFn& progress) const override;
  int lookahead_frames() const override;
  double teacher_forced(const Conditioning& cond, const float* audio, int64_t n_samples,
                        float* logits) const override;
  int64_t loop_nonzero_macs() const override { return loop_.nonzero; }
  int64_t loop_stored_macs() const override { return loop_.stored; }
  std::string describe() const override;

 protected:  // the subscale family (subscale_model.h) is this cell batched over sub-tensors
  struct Data;
  struct Workspace;
  struct Incremental;
  Workspace make_workspace(int batch) const;
  // Runs one step for streams [first, first + count) of the workspace, part
  // by part (config parts P: 2 = coarse, fine): fills part p's logits
  // (w.logits[p]), and for p < P - 1 calls pick_byte(p), which sets
  // w.bytes[p][s] per stream, before part p + 1 runs; the last part's logits
  // are left for the caller. extra (or null): one more gate pre-activation
  // term per stream, stream s's 3N rows (internal order) at extra + s * w.ld.
  template <class PickByte>
  void step(Workspace& w, const Data& d, int first, int count, const float* extra, PickByte pick_byte) const;
  // File-order gate rows (u, r, e; N each, part 0 first within each) in the internal order.
  std::vector<float> permute_gate_rows(const std::vector<float>& v, int cols) const;
  const DualSoftmaxConfig& cell_config() const { return c_; }
  LoopMacs& loop_macs() { return loop_; }
  const LoopMacs& loop_macs() const { return loop_; }
  std::vector<std::string> matrices_json() const;
  float softmax_cut() const { return softmax_cut_; }  // the tail cut as a logit gap (model/sampling_config.h)

 private:

  DualSoftmaxConfig c_;
  double tail_cut_;
  float softmax_cut_;
  Upsampler upsampler_;
  std::vector<std::vector<PolyphaseTap>> taps_;
  TapReach tap_reach_;  // frames the taps reach back / ahead
  // Rows are kept in the order [r_0 u_0 e_0 | r_1 u_1 e_1 | ...] (parts of
  // N/P; P = 2: coarse, fine), so each part's gates are contiguous for the
  // GRU update kernel.
  BlockSparseMatrix cond_;          // 3N x n_mels (dense, float32): cond.weight
  std::vector<float> const_bias_;   // cond.bias + I.bias
  std::vector<std::vector<float>> in_prev_;  // I columns of the previous step's P bytes
  std::vector<std::vector<float>> in_cur_;   // I columns of this step's bytes 0..P-2; q's is zero outside the parts after q
  BlockSparseMatrix r_;
  std::vector<float> r_bias_;  // optional R.bias: recurrent-side bias inside r * (R_e h + b), as PyTorch's GRU
  std::vector<BlockSparseMatrix> heads_;      // O1 .. O_{2P}: part p's pair is 2p, 2p + 1
  std::vector<std::vector<float>> head_bias_;
  std::vector<int> gate_perm_;  // gate_perm_[internal row] = file row
  LoopMacs loop_;
};

}  // namespace sparsewave
