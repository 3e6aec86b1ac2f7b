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

#include "../block_sparse_matrix.h"
#include "conditioning_net.h"
#include "fatchord_config.h"
#include "model.h"
#include "safetensors.h"

namespace sparsewave {

class FatchordModel final : public Model {
 public:
  FatchordModel(const SafetensorsFile& file, const FatchordConfig& config);

  std::string family() const override { return "fatchord"; }
  int sample_rate() const override { return c_.sample_rate; }
  int hop_length() const override { return c_.hop_length; }
  int n_mels() const override { return c_.n_mels; }
  int n_classes() const override { return c_.n_classes; }

  std::unique_ptr<Conditioning> condition(const float* mels, int64_t frames) const override;
  void generate(const Conditioning& cond, const std::vector<StreamSpan>& spans, const UniformFn& uniform,
                const std::vector<float*>& out, const ProgressFn& progress) const override;
  double teacher_forced(const Conditioning& cond, const float* audio, int64_t n_samples,
                        float* logits) const override;
  int64_t loop_nonzero_macs() const override { return loop_nonzero_; }
  int64_t loop_stored_macs() const override { return loop_stored_; }
  std::string describe() const override;

  // Conditioning as the reference computes it (for verification):
  // mels_up (n_samples x n_mels) and aux (n_samples x res_out_dims).
  void conditioning_arrays(const Conditioning& cond, std::vector<float>& mels_up, std::vector<float>& aux) const;

 private:
  struct Layer {  // y = main * input + aux_part * aux_slice + bias
    std::string name;
    BlockSparseMatrix main, aux;
    std::vector<float> bias;
    std::vector<float> x_coef;  // main * I[:, 0]: how the previous sample enters (first fc only)
    int aux_start = 0, aux_width = 0;
  };
  struct Workspace;
  struct Data;

  void hoist_chunk(const Data& d, Workspace& w, int stream, int64_t start, int len) const;
  void step(Workspace& w, int batch, int j, const float* x) const;

  FatchordConfig c_;
  MelResNet resnet_;
  Upsampler upsampler_;
  int in_width_ = 0;  // n_mels + aux width of I
  BlockSparseMatrix i_rest_;
  std::vector<float> i_bias_;
  Layer gru1_ih_, gru2_ih_;  // input-side products (hoisted), x_coef = W_ih * I[:, 0]
  BlockSparseMatrix gru1_hh_, gru2_hh_;
  std::vector<float> gru1_hh_bias_, gru2_hh_bias_;
  std::vector<Layer> fc_;
  int64_t loop_nonzero_ = 0, loop_stored_ = 0;
};

}  // namespace sparsewave
