#include "model/output_heads.h"

#include <algorithm>
#include <cmath>

#include "numerics/activations.h"
#include "numerics/unit_range.h"

namespace sparsewave {

double softmax_nll_bits(const float* logits, int n, int k) {
  double mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(logits[i] - mx);
  return (mx + std::log(s) - logits[k]) / std::log(2.0);
}

float sample_mol(const float* logits, int m, float log_scale_min, float u) {
  const float* pi = logits;
  float mx = pi[0];
  for (int i = 1; i < m; ++i) mx = std::max(mx, pi[i]);
  float total = 0.0f;
  for (int i = 0; i < m; ++i) total += fast_exp(pi[i] - mx);
  const float target = u * total;
  float running = 0.0f, below = 0.0f, width = 0.0f;
  int k = m - 1;
  for (int i = 0; i < m; ++i) {
    const float p = fast_exp(pi[i] - mx);
    if (running + p >= target && p > 0.0f) {
      k = i;
      below = running;
      width = p;
      break;
    }
    running += p;
  }
  float v = width > 0.0f ? (target - below) / width : 0.5f;
  v = std::min(std::max(v, 1e-5f), 1.0f - 1e-5f);
  const float mean = logits[m + k];
  const float log_s = std::max(logits[2 * m + k], log_scale_min);
  const float x = mean + std::exp(log_s) * (std::log(v) - std::log1p(-v));
  return clamp_unit(x);
}

double mol_nll_bits(const float* logits, int m, float log_scale_min, float x) {
  const double half_bin = 1.0 / 65535.0;  // 2^16 bins over [-1, 1]
  double mx = logits[0];
  for (int i = 1; i < m; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double z = 0;
  for (int i = 0; i < m; ++i) z += std::exp(logits[i] - mx);
  auto softplus = [](double t) { return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); };
  auto log_sigmoid = [&](double t) { return -softplus(-t); };
  double acc = 0;
  for (int i = 0; i < m; ++i) {
    const double mean = logits[m + i];
    const double log_s = std::max(static_cast<double>(logits[2 * m + i]), static_cast<double>(log_scale_min));
    const double inv_s = std::exp(-log_s);
    const double c = x - mean;
    double log_p;
    if (x < -0.999) {
      log_p = log_sigmoid(inv_s * (c + half_bin));  // mass below the first bin edge
    } else if (x > 0.999) {
      log_p = log_sigmoid(-inv_s * (c - half_bin));
    } else {
      const double hi = 1.0 / (1.0 + std::exp(-inv_s * (c + half_bin)));
      const double lo = 1.0 / (1.0 + std::exp(-inv_s * (c - half_bin)));
      const double mass = hi - lo;
      // Far in a tail the difference underflows: use the density times the bin.
      log_p = mass > 1e-12 ? std::log(mass)
                           : (-inv_s * c) - log_s - 2.0 * softplus(-inv_s * c) + std::log(2 * half_bin);
    }
    acc += std::exp(logits[i] - mx) / z * std::exp(log_p);
  }
  return -std::log(std::max(acc, 1e-300)) / std::log(2.0);
}

int value_to_class(float x, int n) {
  const float k = std::floor((clamp_unit(x) + 1.0f) * 0.5f * (n - 1) + 0.5f);
  return static_cast<int>(std::min(std::max(k, 0.0f), static_cast<float>(n - 1)));
}

float mu_law_decode(float y, int n) {
  const float mu = static_cast<float>(n - 1);
  const float s = y < 0 ? -1.0f : (y > 0 ? 1.0f : 0.0f);
  return s / mu * (std::pow(1.0f + mu, std::fabs(y)) - 1.0f);
}

float mu_law_encode(float x, int n) {
  const float mu = static_cast<float>(n - 1);
  const float s = x < 0 ? -1.0f : (x > 0 ? 1.0f : 0.0f);
  return s * std::log1p(mu * std::fabs(x)) / std::log1p(mu);
}

}  // namespace sparsewave
