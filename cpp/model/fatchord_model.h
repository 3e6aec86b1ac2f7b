// The fatchord WaveRNN family (fatchord/WaveRNN, Coqui TTS, geneing's pruned
// variant): MelResNet + upsampling conditioning, 1-2 GRUs with residuals,
// 2-3 fully connected layers, softmax (linear / mu-law) or MOL head.
//
// Everything linear in the conditioning is hoisted out of the sample loop:
// per chunk of samples, I, the GRU input matrices and the first FC layer are
// applied to the conditioning with batched block-sparse products, leaving
// only the recurrent products (W_hh h, and the parts fed by h) per sample.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "matrix/block_sparse_matrix.h"
#include "matrix/column_major_matrix.h"
#include "matrix/dense_matrix.h"
#include "model/conditioning_net.h"
#include "model/fatchord_config.h"
#include "model/matrix_report.h"
#include "model/model.h"

namespace sparsewave {

class FatchordModel final : public Model {
 public:
  FatchordModel(const SafetensorsFile& file, const FatchordConfig& config, const LoadOptions& options = {});

  std::string family() const override { return "fatchord"; }
  int sample_rate() const override { return c_.sample_rate; }
  int hop_length() const override { return c_.hop_length; }
  int n_mels() const override { return c_.n_mels; }
  int n_classes() const override { return c_.n_classes; }
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

  // Conditioning as the reference computes it (for verification):
  // mels_up (n_samples x n_mels) and aux (n_samples x res_out_dims).
  void conditioning_arrays(const Conditioning& cond, std::vector<float>& mels_up, std::vector<float>& aux) const;

 private:
  struct Layer {  // y = main * input + aux * aux_slice + bias
    std::string name;
    BlockSparseMatrix main, aux;
    std::vector<float> bias;
    int aux_start = 0, aux_width = 0;
  };
  // A layer whose input-side term is hoisted out of the loop:
  //   pre(t) = sum_k w[phase][k] Z[frame - d_k] + Q[frame] (+ x * x_coef)
  // Z projects mel frames through (main * I_mel); Q holds everything that is
  // constant over a frame (aux, biases). See condition().
  struct Hoisted {
    const Layer* layer = nullptr;
    bool through_i = false;       // main's input is I's output (GRU inputs, first fc)
    ColumnMajorMatrix mel_proj;   // rows x n_mels: main * I[:, mel columns]
    std::vector<float> x_coef;    // main * I[:, 0]
    std::vector<float> q_zero;    // pre() where the conditioning is all zero (fold padding)
    // main's weights in float32 for the per-frame term (fill_q) when the loop
    // runs main in int8: a term computed once a frame gains nothing from
    // quantizing its input, and would lose accuracy. Empty otherwise.
    BlockSparseMatrix per_frame;
  };
  struct Data;
  struct Workspace;
  struct Incremental;

  void init_upsample_taps();
  // Appends padded mel rows (zero rows where mels is null) and their Z rows.
  void append_rows(Incremental& s, const float* mels, int64_t n) const;
  // Q of d's frames from their aux features (d.aux).
  void fill_q(Data& d) const;
  // out (stream s at out + s * w.ld) (+)= the hoisted term of layer h at steps t.
  void add_hoisted(std::size_t h, const Data& d, const int64_t* t, const float* x, int batch, float* out,
                   bool accumulate, Workspace& w) const;
  void step(Workspace& w, const Data& d, int batch, const int64_t* t, const float* x) const;
  Workspace make_workspace(int batch) const;

  FatchordConfig c_;
  double tail_cut_;
  float softmax_cut_;  // the tail cut as a logit gap (model/sampling_config.h)
  MelResNet resnet_;
  Upsampler upsampler_;
  std::vector<std::vector<PolyphaseTap>> taps_;  // per phase (t mod hop)
  TapReach tap_reach_;                            // frames the taps reach back / ahead
  DenseMatrix i_aux_;                   // I[:, aux columns]
  std::vector<float> i_bias_;
  Layer gru1_ih_, gru2_ih_;
  BlockSparseMatrix gru1_hh_, gru2_hh_;
  std::vector<float> gru1_hh_bias_, gru2_hh_bias_;
  std::vector<Layer> fc_;
  std::vector<Hoisted> hoisted_;  // gru1_ih, [gru2_ih], fc0, [fc_i with aux]
  int hoisted_gru2_ = -1, hoisted_fc0_ = -1;
  std::vector<int> hoisted_fc_;  // per fc index: its hoisted entry or -1
  LoopMacs loop_;
};

}  // namespace sparsewave
