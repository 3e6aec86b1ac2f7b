// Output distributions: sampling by inverse CDF with one uniform, and
// log-likelihoods (in bits) for teacher-forced NLL. (Softmax sampling is an
// element-wise kernel: KernelTable::elementwise.sample_softmax.)
#pragma once

namespace sparsewave {

// -log2 softmax(logits)[k].
double softmax_nll_bits(const float* logits, int n, int k);

// Mixture of logistics, logits laid out [pi (m) | mean (m) | log_scale (m)].
// One uniform: the component is chosen by inverse CDF over softmax(pi) and
// the uniform's position inside that component's interval (itself uniform)
// drives the logistic quantile. Result clamped to [-1, 1] (NaN -> 0).
float sample_mol(const float* logits, int n_mix, float log_scale_min, float u);

// -log2 P(x) for the discretised mixture over 2^16 bins on [-1, 1] (the
// likelihood fatchord's MOL model is trained with).
double mol_nll_bits(const float* logits, int n_mix, float log_scale_min, float x);

// Class k of 2^bits <-> value in [-1, 1]; mu-law companding with mu = 2^bits - 1.
inline float class_to_value(int k, int n_classes) { return 2.0f * k / (n_classes - 1) - 1.0f; }
int value_to_class(float x, int n_classes);
float mu_law_decode(float y, int n_classes);
float mu_law_encode(float x, int n_classes);

}  // namespace sparsewave
