#include "matrix/block_sparse_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/dispatch.h"
#include "numerics/half.h"

namespace sparsewave {

namespace {
// Keeps every element index (and padded index) well inside int32.
constexpr long long kMaxDim = 1 << 24;
constexpr long long kMaxElements = 1LL << 30;
// 127 * 127 * 131072 < 2^31: an int8 row sum cannot overflow int32.
constexpr int kMaxInt8Cols = 1 << 17;

// |q_a| + |q_b| <= 128 for every pair of adjacent columns (2i, 2i+1; blocks
// are 4 wide, so pairs never straddle blocks): 255 * 128 fits int16.
constexpr int kPairBound = 128;
bool pairs_within_bound(const int8_t* q, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    if (std::abs(int{q[i]}) + std::abs(int{q[i + 1]}) > kPairBound) return false;
  return true;
}

// Codes of nvec vectors (x + v * ldx, cols values each), one padded row of pc codes per vector
// in a per-thread buffer (zero codes past cols); quantize_one(x, codes) returns a vector's scale.
template <typename Code, typename QuantizeOne>
Code* quantize_each_vector(const float* x, std::ptrdiff_t ldx, int nvec, int cols, int pc, QuantizeOne quantize_one,
                           std::vector<float>& scales) {
  thread_local AlignedVector<Code> codes;
  if (codes.size() < static_cast<std::size_t>(nvec) * pc) codes.resize(static_cast<std::size_t>(nvec) * pc);
  scales.resize(nvec);
  for (int v = 0; v < nvec; ++v) {
    Code* q = codes.data() + static_cast<std::ptrdiff_t>(v) * pc;
    scales[v] = quantize_one(x + v * ldx, q);  // only x's true columns set its scale
    std::fill(q + cols, q + pc, Code{0});
  }
  return codes.data();
}
}  // namespace

bool is_supported_block(int br, int bc) {
  return (br == 4 && bc == 4) || (br == 8 && bc == 4) || (br == 16 && bc == 1) || (br == 1 && bc == 4) ||
         (br == 1 && bc == 1);
}

void BlockSparseMatrix::set_shape(int rows, int cols, int br, int bc) {
  if (!is_supported_block(br, bc))
    throw std::invalid_argument("unsupported block shape (" + std::to_string(br) + ", " + std::to_string(bc) +
                                "); supported: (4, 4), (8, 4), (16, 1), (1, 4), (1, 1)");
  if (rows < 0 || cols < 0 || rows > kMaxDim || cols > kMaxDim ||
      static_cast<long long>(rows) * cols > kMaxElements)
    throw std::invalid_argument("matrix shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
                                ") is negative or too large");
  rows_ = rows;
  cols_ = cols;
  block_rows_ = br;
  block_cols_ = bc;
  n_block_rows_ = (rows + br - 1) / br;
  n_block_cols_ = (cols + bc - 1) / bc;
}

BlockSparseMatrix BlockSparseMatrix::from_dense(const float* w, int rows, int cols, int br, int bc) {
  BlockSparseMatrix m;
  m.set_shape(rows, cols, br, bc);
  for (long long i = 0; i < static_cast<long long>(rows) * cols; ++i)
    if (!std::isfinite(w[i]))
      throw std::invalid_argument("weight at (" + std::to_string(i / cols) + ", " + std::to_string(i % cols) +
                                  ") is not finite (NaN or Inf)");
  const int block_size = br * bc;
  m.row_ptr_.assign(m.n_block_rows_ + 1, 0);
  std::vector<float> block(block_size);
  for (int rb = 0; rb < m.n_block_rows_; ++rb) {
    for (int cb = 0; cb < m.n_block_cols_; ++cb) {
      bool any = false;
      for (int r = 0; r < br; ++r)
        for (int c = 0; c < bc; ++c) {
          const int i = rb * br + r, j = cb * bc + c;
          const float v = (i < rows && j < cols) ? w[static_cast<std::ptrdiff_t>(i) * cols + j] : 0.0f;
          block[r * bc + c] = v;
          any |= (v != 0.0f);
        }
      if (!any) continue;  // all-zero blocks are not stored
      m.col_start_.push_back(cb * bc);
      m.values_.insert(m.values_.end(), block.begin(), block.end());
    }
    m.row_ptr_[rb + 1] = static_cast<int32_t>(m.col_start_.size());
  }
  return m;
}

void BlockSparseMatrix::set_structure(const std::vector<int32_t>& row_ptr, const std::vector<int32_t>& block_col,
                                      std::size_t n_values) {
  if (row_ptr.size() != static_cast<std::size_t>(n_block_rows_) + 1)
    throw std::invalid_argument("row_ptr has " + std::to_string(row_ptr.size()) + " entries, expected " +
                                std::to_string(n_block_rows_ + 1));
  if (row_ptr.front() != 0) throw std::invalid_argument("row_ptr[0] must be 0");
  for (std::size_t i = 1; i < row_ptr.size(); ++i)
    if (row_ptr[i] < row_ptr[i - 1])
      throw std::invalid_argument("row_ptr decreases at entry " + std::to_string(i));
  if (static_cast<std::size_t>(row_ptr.back()) != block_col.size())
    throw std::invalid_argument("row_ptr ends at " + std::to_string(row_ptr.back()) + " but there are " +
                                std::to_string(block_col.size()) + " column indices");
  const std::size_t block_size = static_cast<std::size_t>(block_rows_) * block_cols_;
  if (n_values != block_col.size() * block_size)
    throw std::invalid_argument("expected " + std::to_string(block_col.size() * block_size) +
                                " block values, got " + std::to_string(n_values));
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr[rb]; k < row_ptr[rb + 1]; ++k) {
      if (block_col[k] < 0 || block_col[k] >= n_block_cols_)
        throw std::invalid_argument("block column index " + std::to_string(block_col[k]) + " at position " +
                                    std::to_string(k) + " is outside [0, " + std::to_string(n_block_cols_) + ")");
      if (k > row_ptr[rb] && block_col[k] <= block_col[k - 1])
        throw std::invalid_argument("block column indices of block row " + std::to_string(rb) +
                                    " are not strictly increasing");
    }
  row_ptr_ = row_ptr;
  col_start_.resize(block_col.size());
  for (std::size_t k = 0; k < block_col.size(); ++k) col_start_[k] = block_col[k] * block_cols_;
}

template <class T>
void BlockSparseMatrix::check_padding_zero(const T* values) const {
  // Padding rows/columns must hold zeros, or to_dense and products disagree.
  const std::size_t block_size = static_cast<std::size_t>(block_rows_) * block_cols_;
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
      for (int r = 0; r < block_rows_; ++r)
        for (int c = 0; c < block_cols_; ++c)
          if ((rb * block_rows_ + r >= rows_ || col_start_[k] + c >= cols_) &&
              values[k * block_size + r * block_cols_ + c] != 0)
            throw std::invalid_argument("non-zero value in the padding of block " + std::to_string(k));
}

BlockSparseMatrix BlockSparseMatrix::from_packed(int rows, int cols, int br, int bc,
                                                 const std::vector<int32_t>& row_ptr,
                                                 const std::vector<int32_t>& block_col, const float* values,
                                                 std::size_t n_values) {
  BlockSparseMatrix m;
  m.set_shape(rows, cols, br, bc);
  m.set_structure(row_ptr, block_col, n_values);
  for (std::size_t i = 0; i < n_values; ++i)
    if (!std::isfinite(values[i]))
      throw std::invalid_argument("block value " + std::to_string(i) + " is not finite (NaN or Inf)");
  m.check_padding_zero(values);
  m.values_.assign(values, values + n_values);
  return m;
}

BlockSparseMatrix BlockSparseMatrix::from_packed_int8(int rows, int cols, int br, int bc,
                                                      const std::vector<int32_t>& row_ptr,
                                                      const std::vector<int32_t>& block_col, const int8_t* values,
                                                      std::size_t n_values, const float* row_scale,
                                                      std::size_t n_scales) {
  BlockSparseMatrix m;
  m.set_shape(rows, cols, br, bc);
  if (!((br == 8 || br == 4) && bc == 4))
    throw std::invalid_argument("int8 weights need 8x4 or 4x4 blocks, got " + std::to_string(br) + "x" +
                                std::to_string(bc));
  if (m.padded_cols() > kMaxInt8Cols)
    throw std::invalid_argument("int8 weights: " + std::to_string(cols) + " columns is more than " +
                                std::to_string(kMaxInt8Cols) + " (the int32 sums could overflow)");
  m.set_structure(row_ptr, block_col, n_values);
  const int pr = m.padded_rows();
  if (n_scales != static_cast<std::size_t>(pr))
    throw std::invalid_argument("expected " + std::to_string(pr) + " row scales (one per padded row), got " +
                                std::to_string(n_scales));
  for (int r = 0; r < pr; ++r) {
    if (!std::isfinite(row_scale[r]))
      throw std::invalid_argument("row scale " + std::to_string(r) + " is not finite (NaN or Inf)");
    if (row_scale[r] < 0.0f)
      throw std::invalid_argument("row scale " + std::to_string(r) + " is negative");
    if (r >= rows && row_scale[r] != 0.0f)
      throw std::invalid_argument("row scale " + std::to_string(r) + " of a padding row is not zero");
  }
  for (std::size_t i = 0; i < n_values; ++i)
    if (values[i] < -127)  // -128 has no positive twin: the kernels' sign trick needs [-127, 127]
      throw std::invalid_argument("int8 value " + std::to_string(values[i]) + " at position " + std::to_string(i) +
                                  " is outside [-127, 127]");
  m.check_padding_zero(values);
  // The state store_int8 leaves: int8 values, scales, row sums and the
  // dequantized float values (computed as store_int8 computes them).
  const int bs = br * bc;
  m.values_i8_.assign(values, values + n_values);
  m.row_scale_.assign(row_scale, row_scale + pr);
  m.row_sum_.assign(pr, 0);
  m.values_.resize(n_values);
  for (int rb = 0; rb < m.n_block_rows_; ++rb)
    for (int32_t k = m.row_ptr_[rb]; k < m.row_ptr_[rb + 1]; ++k)
      for (int i = 0; i < bs; ++i) {
        const int r = rb * br + i / bc;
        const std::size_t at = static_cast<std::size_t>(k) * bs + i;
        m.row_sum_[r] += m.values_i8_[at];
        m.values_[at] = static_cast<float>(m.values_i8_[at]) * m.row_scale_[r];
      }
  m.int8_ = true;
  m.pair_bounded_ = pairs_within_bound(m.values_i8_.data(), m.values_i8_.size());
  return m;
}

BlockSparseMatrix BlockSparseMatrix::permute_block_rows(const std::vector<int>& order) const {
  if (order.size() != static_cast<std::size_t>(n_block_rows_))
    throw std::invalid_argument("permute_block_rows: " + std::to_string(order.size()) + " entries for " +
                                std::to_string(n_block_rows_) + " block rows");
  std::vector<char> seen(n_block_rows_, 0);
  for (int b : order) {
    if (b < 0 || b >= n_block_rows_ || seen[b]) throw std::invalid_argument("permute_block_rows: not a permutation");
    seen[b] = 1;
  }
  BlockSparseMatrix m;
  m.set_shape(rows_, cols_, block_rows_, block_cols_);
  if ((rows_ % block_rows_) != 0) {
    // A padding block row would move inside the matrix: only the identity keeps it last.
    for (int b = 0; b < n_block_rows_; ++b)
      if (order[b] != b) throw std::invalid_argument("permute_block_rows: the padded last block row must stay last");
  }
  m.half_ = half_;
  m.int8_ = int8_;
  m.pair_bounded_ = pair_bounded_;
  m.wide_inputs_ = wide_inputs_;
  m.input_qmax_ = input_qmax_;
  const std::size_t bs = static_cast<std::size_t>(block_rows_) * block_cols_;
  m.row_ptr_.assign(1, 0);
  if (int8_) {
    m.row_scale_.resize(row_scale_.size());
    m.row_sum_.resize(row_sum_.size());
  }
  for (int b = 0; b < n_block_rows_; ++b) {
    const int src = order[b];
    const int32_t k0 = row_ptr_[src], k1 = row_ptr_[src + 1];
    m.col_start_.insert(m.col_start_.end(), col_start_.begin() + k0, col_start_.begin() + k1);
    m.values_.insert(m.values_.end(), values_.begin() + k0 * bs, values_.begin() + k1 * bs);
    if (half_) m.values_f16_.insert(m.values_f16_.end(), values_f16_.begin() + k0 * bs, values_f16_.begin() + k1 * bs);
    if (int8_) {
      m.values_i8_.insert(m.values_i8_.end(), values_i8_.begin() + k0 * bs, values_i8_.begin() + k1 * bs);
      for (int r = 0; r < block_rows_; ++r) {
        m.row_scale_[b * block_rows_ + r] = row_scale_[src * block_rows_ + r];
        m.row_sum_[b * block_rows_ + r] = row_sum_[src * block_rows_ + r];
      }
    }
    m.row_ptr_.push_back(static_cast<int32_t>(m.col_start_.size()));
  }
  return m;
}

double BlockSparseMatrix::density() const {
  const double all = static_cast<double>(n_block_rows_) * n_block_cols_;
  return all > 0 ? nnz_blocks() / all : 0.0;
}

std::size_t BlockSparseMatrix::nbytes() const {  // what the products read
  if (int8_)  // the int8 products also read one scale per row
    return values_i8_.size() + row_scale_.size() * sizeof(float) + (row_ptr_.size() + col_start_.size()) * sizeof(int32_t);
  const std::size_t value_bytes = half_ ? values_f16_.size() * sizeof(uint16_t) : values_.size() * sizeof(float);
  return value_bytes + (row_ptr_.size() + col_start_.size()) * sizeof(int32_t);
}

void BlockSparseMatrix::store_int8(Int8Rule rule) {
  if (int8_) return;
  if (!((block_rows_ == 8 || block_rows_ == 4) && block_cols_ == 4))
    throw std::invalid_argument("int8 weights need 8x4 or 4x4 blocks, this matrix has " + std::to_string(block_rows_) +
                                "x" + std::to_string(block_cols_));
  if (padded_cols() > kMaxInt8Cols)
    throw std::invalid_argument("int8 weights: " + std::to_string(cols_) + " columns is more than " +
                                std::to_string(kMaxInt8Cols) + " (the int32 sums could overflow)");
  if (half_) {  // start again from the exact float32 values is impossible; quantize the halves
    values_f16_.clear();
    half_ = false;
  }
  const int pr = padded_rows(), bs = block_rows_ * block_cols_;
  std::vector<float> row_max(pr, 0.0f);
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
      for (int i = 0; i < bs; ++i) {
        float& m = row_max[rb * block_rows_ + i / block_cols_];
        m = std::max(m, std::fabs(values_[static_cast<std::size_t>(k) * bs + i]));
      }
  if (rule == Int8Rule::pair_bounded) {
    // Raise each row's max to (127 / 128) * its largest pair sum: then
    // |q_a| + |q_b| ~ (|w_a| + |w_b|) * 127 / max <= 128 (up to float rounding, fixed below).
    for (int rb = 0; rb < n_block_rows_; ++rb)
      for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
        for (int i = 0; i < bs; i += 2) {
          const std::size_t at = static_cast<std::size_t>(k) * bs + i;
          float& m = row_max[rb * block_rows_ + i / block_cols_];
          m = std::max(m, (std::fabs(values_[at]) + std::fabs(values_[at + 1])) * (127.0f / 128.0f));
        }
  }
  row_scale_.assign(pr, 0.0f);
  row_sum_.assign(pr, 0);
  values_i8_.resize(values_.size());
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
      for (int i = 0; i < bs; ++i) {
        const int r = rb * block_rows_ + i / block_cols_;
        const std::size_t at = static_cast<std::size_t>(k) * bs + i;
        // A row below kQuantizeTinyMax (127 / max would overflow) quantizes to zeros, scale 0.
        const float inv = row_max[r] >= kQuantizeTinyMax ? 127.0f / row_max[r] : 0.0f;
        const int q = static_cast<int>(std::nearbyint(values_[at] * inv));
        values_i8_[at] = static_cast<int8_t>(std::min(127, std::max(-127, q)));
        row_sum_[r] += values_i8_[at];
      }
  if (rule == Int8Rule::pair_bounded) {
    // Rounding both members up can reach 129 (never more: each moves < 0.5
    // past a sum <= 128 * (1 + a few ulps)); the larger one (the first on a
    // tie) steps back toward zero.
    for (int rb = 0; rb < n_block_rows_; ++rb)
      for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
        for (int i = 0; i < bs; i += 2) {
          int8_t* a = &values_i8_[static_cast<std::size_t>(k) * bs + i];
          if (std::abs(int{a[0]}) + std::abs(int{a[1]}) <= kPairBound) continue;
          int8_t& big = std::abs(int{a[0]}) >= std::abs(int{a[1]}) ? a[0] : a[1];
          const int step = big > 0 ? 1 : -1;
          big = static_cast<int8_t>(big - step);
          row_sum_[rb * block_rows_ + i / block_cols_] -= step;
        }
  }
  for (int r = 0; r < pr; ++r) row_scale_[r] = row_max[r] >= kQuantizeTinyMax ? row_max[r] / 127.0f : 0.0f;
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
      for (int i = 0; i < bs; ++i) {
        const std::size_t at = static_cast<std::size_t>(k) * bs + i;
        values_[at] = static_cast<float>(values_i8_[at]) * row_scale_[rb * block_rows_ + i / block_cols_];
      }
  int8_ = true;
  pair_bounded_ = pairs_within_bound(values_i8_.data(), values_i8_.size());
}

void BlockSparseMatrix::store_as(WeightType t) {
  if (t == WeightType::f16) store_half();
  if (t == WeightType::i8 || t == WeightType::i8a16) store_int8();
  if (t == WeightType::i8a16) use_wide_inputs();
}

void BlockSparseMatrix::use_wide_inputs() {
  if (!int8_) throw std::invalid_argument("16-bit inputs need int8 weights (store_int8 first)");
  const std::size_t bs = static_cast<std::size_t>(block_rows_) * block_cols_;
  int64_t widest = 1;  // the largest row sum of |w|; at least 1 so an all-zero matrix takes the cap
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int r = 0; r < block_rows_; ++r) {
      int64_t sum = 0;
      for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
        for (int c = 0; c < block_cols_; ++c) sum += std::abs(int{values_i8_[k * bs + r * block_cols_ + c]});
      widest = std::max(widest, sum);
    }
  // store_int8's column limit (131072) keeps this at 127 or more.
  input_qmax_ = static_cast<int>(std::min<int64_t>(kInputQmaxCap, std::numeric_limits<int32_t>::max() / widest));
  wide_inputs_ = true;
}

void BlockSparseMatrix::store_half() {
  if (int8_) throw std::invalid_argument("the matrix already stores int8 weights");
  for (std::size_t i = 0; i < values_.size(); ++i)
    if (std::fabs(values_[i]) > 65504.0f)
      throw std::invalid_argument("weight " + std::to_string(values_[i]) + " is outside the float16 range (65504)");
  values_f16_.resize(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    values_f16_[i] = float_to_half(values_[i]);
    values_[i] = half_to_float(values_f16_[i]);
  }
  half_ = true;
}

BsrView BlockSparseMatrix::view() const {
  BsrView v;
  v.block_rows = block_rows_;
  v.block_cols = block_cols_;
  v.n_block_rows = n_block_rows_;
  v.padded_cols = padded_cols();
  v.row_ptr = row_ptr_.data();
  v.col_start = col_start_.data();
  v.values = values_.data();
  v.values_f16 = half_ ? values_f16_.data() : nullptr;
  if (int8_) {
    v.values_i8 = values_i8_.data();
    v.row_scale = row_scale_.data();
    v.row_sum = row_sum_.data();
  }
  return v;
}

void BlockSparseMatrix::to_dense(float* out) const {
  std::memset(out, 0, sizeof(float) * static_cast<std::size_t>(rows_) * cols_);
  for (int rb = 0; rb < n_block_rows_; ++rb)
    for (int32_t k = row_ptr_[rb]; k < row_ptr_[rb + 1]; ++k)
      for (int r = 0; r < block_rows_; ++r)
        for (int c = 0; c < block_cols_; ++c) {
          const int i = rb * block_rows_ + r, j = col_start_[k] + c;
          if (i < rows_ && j < cols_)
            out[static_cast<std::ptrdiff_t>(i) * cols_ + j] =
                values_[static_cast<std::size_t>(k) * block_rows_ * block_cols_ + r * block_cols_ + c];
        }
}

bool BlockSparseMatrix::takes_offset_bytes(const KernelTable& k) const {
  return (pair_bounded_ || k.pair_slots_any_weights) && k.block(block_rows_, block_cols_).spmv_i8_pair != nullptr;
}

namespace {
// Per-thread buffer for a product's quantized x (reused: products run per sample).
template <class Q>
Q* quantize_scratch(int n) {
  thread_local AlignedVector<Q> buf;
  if (buf.size() < static_cast<std::size_t>(n)) buf.resize(n);
  return buf.data();
}
}  // namespace

void BlockSparseMatrix::spmv_padded(const float* x, float* y, bool accumulate, int rb_begin, int rb_end,
                                    const KernelTable& k) const {
  const BlockKernels& kb = k.block(block_rows_, block_cols_);
  if (int8_) {
    // Only x's true columns set its scale: callers' padding may hold the next
    // vector's values (the fine half after the coarse), which the zero weights
    // there would ignore in float but which would coarsen the quantization.
    if (wide_inputs_) {
      if (k.quantize_i16_quads != nullptr && kb.spmv_i8a16_quads != nullptr) {
        int8_t* quads = quantize_scratch<int8_t>(2 * padded_cols());  // split into bytes once per product
        const float x_scale = k.quantize_i16_quads(x, cols_, padded_cols(), quads, input_qmax_);
        kb.spmv_i8a16_quads(view(), quads, x_scale, y, rb_begin, rb_end, accumulate);
        return;
      }
      int16_t* xw = quantize_scratch<int16_t>(padded_cols());
      const float x_scale = k.quantize_i16(x, cols_, xw, input_qmax_);
      std::fill(xw + cols_, xw + padded_cols(), int16_t{0});
      kb.spmv_i8a16(view(), xw, x_scale, y, rb_begin, rb_end, accumulate);
      return;
    }
    int8_t* xq = quantize_scratch<int8_t>(padded_cols());
    const float x_scale = k.quantize(x, cols_, xq);
    std::fill(xq + cols_, xq + padded_cols(), int8_t{0});
    if (takes_offset_bytes(k)) {
      // xu = xq + 128 (flipping the sign bit), in place: once per product, not per block.
      uint8_t* xu = reinterpret_cast<uint8_t*>(xq);
      for (int i = 0, n = padded_cols(); i < n; ++i) xu[i] ^= 0x80u;
      kb.spmv_i8_pair(view(), xu, x_scale, y, rb_begin, rb_end, accumulate);
      return;
    }
    kb.spmv_i8(view(), xq, x_scale, y, rb_begin, rb_end, accumulate);
    return;
  }
  (half_ ? kb.spmv_f16 : kb.spmv)(view(), x, y, rb_begin, rb_end, accumulate);
}

void BlockSparseMatrix::spmm_padded(const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int n,
                                    bool accumulate, int rb_begin, int rb_end, const KernelTable& k) const {
  // No float16 or int8 spmm: it reads the float32 values, which store_half
  // rounded alike and store_int8 made the dequantized weights.
  k.block(block_rows_, block_cols_).spmm(view(), x, ldx, y, ldy, n, rb_begin, rb_end, accumulate);
}

void BlockSparseMatrix::spmv_many_padded(const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
                                         bool accumulate, const KernelTable& k) const {
  const BlockKernels& kb = k.block(block_rows_, block_cols_);
  if (int8_) {
    // Each vector quantized on its own (as spmv_padded does), then one pass over the weights
    // for all of them where the ISA has a many-vector kernel: the same bits either way.
    const bool pair = takes_offset_bytes(k);
    const int pc = padded_cols();
    thread_local std::vector<float> scales;
    if (wide_inputs_ && nvec > 1 && kb.spmv_many_i8a16 != nullptr) {
      const int16_t* xw = quantize_each_vector<int16_t>(
          x, ldx, nvec, cols_, pc, [&](const float* xv, int16_t* q) { return k.quantize_i16(xv, cols_, q, input_qmax_); },
          scales);
      kb.spmv_many_i8a16(view(), xw, pc, scales.data(), y, ldy, nvec, 0, n_block_rows_, accumulate);
      return;
    }
    if (nvec <= 1 || wide_inputs_ || (pair ? kb.spmv_many_i8_pair == nullptr : kb.spmv_many_i8 == nullptr)) {
      for (int v = 0; v < nvec; ++v) spmv_padded(x + v * ldx, y + v * ldy, accumulate, 0, n_block_rows_, k);
      return;
    }
    int8_t* xq = quantize_each_vector<int8_t>(
        x, ldx, nvec, cols_, pc, [&](const float* xv, int8_t* q) { return k.quantize(xv, cols_, q); }, scales);
    if (pair) {  // xu = xq + 128 (flipping the sign bit)
      for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(nvec) * pc; ++i)
        xq[i] = static_cast<int8_t>(static_cast<uint8_t>(xq[i]) ^ 0x80u);
      kb.spmv_many_i8_pair(view(), reinterpret_cast<const uint8_t*>(xq), pc, scales.data(), y, ldy, nvec, 0,
                           n_block_rows_, accumulate);
    } else {
      kb.spmv_many_i8(view(), xq, pc, scales.data(), y, ldy, nvec, 0, n_block_rows_, accumulate);
    }
    return;
  }
  (half_ ? kb.spmv_many_f16 : kb.spmv_many)(view(), x, ldx, y, ldy, nvec, 0, n_block_rows_, accumulate);
}

void BlockSparseMatrix::spmv_streams_padded(const float* x, float* y, int n_streams, std::ptrdiff_t ld,
                                            bool accumulate, const KernelTable& k, bool multi_vector) const {
  if (n_streams == 1 && !multi_vector)
    spmv_padded(x, y, accumulate, 0, n_block_rows_, k);
  else
    spmv_many_padded(x, ld, y, ld, n_streams, accumulate, k);
}

void BlockSparseMatrix::matvec_many(const float* x, int n, float* y, bool accumulate) const {
  if (n <= 0) return;
  const KernelTable& k = active_kernels();
  const std::size_t nn = static_cast<std::size_t>(n);
  const int pc = padded_cols(), pr = padded_rows();
  AlignedVector<float> xp(pc * nn, 0.0f), yp(pr * nn, 0.0f);
  for (std::size_t v = 0; v < nn; ++v) {
    std::copy(x + v * cols_, x + (v + 1) * cols_, xp.begin() + v * pc);
    if (accumulate) std::copy(y + v * rows_, y + (v + 1) * rows_, yp.begin() + v * pr);
  }
  spmv_many_padded(xp.data(), pc, yp.data(), pr, n, accumulate, k);
  for (std::size_t v = 0; v < nn; ++v) std::copy(yp.begin() + v * pr, yp.begin() + v * pr + rows_, y + v * rows_);
}

void BlockSparseMatrix::matvec(const float* x, float* y, bool accumulate) const {
  const KernelTable& k = active_kernels();
  const bool exact = padded_rows() == rows_ && padded_cols() == cols_;
  if (exact) {
    spmv_padded(x, y, accumulate, 0, n_block_rows_, k);
    return;
  }
  AlignedVector<float> xp(padded_cols(), 0.0f), yp(padded_rows(), 0.0f);
  std::copy(x, x + cols_, xp.begin());
  if (accumulate) std::copy(y, y + rows_, yp.begin());
  spmv_padded(xp.data(), yp.data(), accumulate, 0, n_block_rows_, k);
  std::copy(yp.begin(), yp.begin() + rows_, y);
}

void BlockSparseMatrix::matmul(const float* x, int n, float* y, bool accumulate) const {
  const KernelTable& k = active_kernels();
  if (n <= 0) return;
  const bool exact = padded_rows() == rows_ && padded_cols() == cols_;
  if (exact) {
    spmm_padded(x, n, y, n, n, accumulate, 0, n_block_rows_, k);
    return;
  }
  const std::size_t nn = static_cast<std::size_t>(n);
  AlignedVector<float> xp(padded_cols() * nn, 0.0f), yp(padded_rows() * nn, 0.0f);
  std::copy(x, x + cols_ * nn, xp.begin());
  if (accumulate) std::copy(y, y + rows_ * nn, yp.begin());
  spmm_padded(xp.data(), n, yp.data(), n, n, accumulate, 0, n_block_rows_, k);
  std::copy(yp.begin(), yp.begin() + rows_ * nn, y);
}

}  // namespace sparsewave
