#include "activations.h"

namespace sparsewave {

void exp_inplace(float* x, int n) {
  for (int i = 0; i < n; ++i) x[i] = fast_exp(x[i]);
}
void sigmoid_inplace(float* x, int n) {
  for (int i = 0; i < n; ++i) x[i] = fast_sigmoid(x[i]);
}
void tanh_inplace(float* x, int n) {
  for (int i = 0; i < n; ++i) x[i] = fast_tanh(x[i]);
}

}  // namespace sparsewave
