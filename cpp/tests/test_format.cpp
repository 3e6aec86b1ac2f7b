// C++ format test (ctest): the JSON reader takes exactly what Python's json
// takes (no leading zeros, valid UTF-8 only), zero-size tensors (an all-zero
// packed matrix, float or int8) read cleanly, and int8 matrices as a file
// stores them are validated entry by entry. Run it in a UBSan build too:
// reading an empty tensor must not pass a null pointer to memcpy.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "format/json.h"
#include "format/matrix_reader.h"
#include "format/safetensors.h"
#include "matrix/block_sparse_matrix.h"

namespace {

int g_failures = 0;
int g_checks = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok && g_failures++ < 20) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
}

// "" when text parses, else the error message.
std::string json_error(const std::string& text) {
  try {
    sparsewave::JsonValue::parse(text);
    return "";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

void test_json_numbers() {
  for (const char* ok : {"0", "-0", "0.5", "-0.5e3", "10", "-120", "1e07", "[0, 10, 0.0]"})
    check(json_error(ok).empty(), std::string("JSON accepts ") + ok);
  for (const char* bad : {"01", "-01", "00", "00.5", "[1, 007]", "{\"a\": 0123}"}) {
    const std::string e = json_error(bad);
    check(e.find("leading zero") != std::string::npos, std::string("JSON rejects ") + bad + " (got: " + e + ")");
  }
}

void test_json_utf8() {
  // e-acute, euro sign, U+1F600, U+10FFFF: 2, 3, 4, 4 bytes.
  for (const char* ok : {"\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\""})
    check(json_error(ok).empty(), "JSON accepts valid UTF-8");
  const char* bad[] = {
      "\"\xff\"",              // never a UTF-8 byte
      "\"\x80\"",              // stray continuation byte
      "\"\xc3\"",              // truncated at the closing quote
      "\"\xc3",                // truncated at the end
      "\"\xc0\xaf\"",          // overlong '/'
      "\"\xe0\x80\xaf\"",      // overlong, 3 bytes
      "\"\xed\xa0\x80\"",      // UTF-16 surrogate D800
      "\"\xf4\x90\x80\x80\"",  // U+110000
      "\"\xe2\x28\xa1\"",      // bad continuation
  };
  for (const char* b : bad) {
    const std::string e = json_error(b);
    check(e.find("UTF-8") != std::string::npos || e.find("unterminated") != std::string::npos,
          "JSON rejects invalid UTF-8 (got: " + e + ")");
  }
  check(json_error("{\"k\xff\": 1}").find("UTF-8") != std::string::npos, "JSON rejects invalid UTF-8 in a key");
}

// A safetensors file with the given JSON header and data bytes.
std::string write_safetensors(const std::string& header, const std::vector<uint8_t>& data) {
  char path[] = "/tmp/sparsewave_test_format_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  std::string h = header;
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> bytes(8);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  bytes.insert(bytes.end(), h.begin(), h.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  const bool ok = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  close(fd);
  if (!ok) throw std::runtime_error("write failed");
  return path;
}

void test_empty_tensors() {
  // An all-zero (16, 8) matrix packed in 4x4 blocks: row_ptr is 5 zeros, the
  // column and value tensors are empty.
  const std::string header =
      "{\"w.bsr_shape\": {\"dtype\": \"I32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
      " \"w.bsr_row_ptr\": {\"dtype\": \"I32\", \"shape\": [5], \"data_offsets\": [16, 36]},"
      " \"w.bsr_block_col\": {\"dtype\": \"I32\", \"shape\": [0], \"data_offsets\": [36, 36]},"
      " \"w.bsr_values\": {\"dtype\": \"F32\", \"shape\": [0, 4, 4], \"data_offsets\": [36, 36]},"
      " \"empty\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [36, 36]}}";
  std::vector<uint8_t> data(36, 0);
  const int32_t shape[4] = {16, 8, 4, 4};
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 4; ++b) data[4 * i + b] = static_cast<uint8_t>(static_cast<uint32_t>(shape[i]) >> (8 * b));
  const std::string path = write_safetensors(header, data);
  try {
    sparsewave::SafetensorsFile f(path);
    check(f.read_f32("empty", {0}).empty(), "an empty F32 tensor reads as empty");
    check(f.read_i32("w.bsr_block_col", {0}).empty(), "an empty I32 tensor reads as empty");
    const auto m = sparsewave::read_matrix(f, "w", 16, 8);
    check(m.rows() == 16 && m.cols() == 8 && m.nonzeros() == 0, "an all-zero packed matrix reads as 16x8, no nonzeros");
  } catch (const std::exception& e) {
    check(false, std::string("reading empty tensors threw: ") + e.what());
  }
  std::remove(path.c_str());
}

void put_i32(std::vector<uint8_t>& data, std::size_t at, int32_t v) {
  for (int b = 0; b < 4; ++b) data[at + b] = static_cast<uint8_t>(static_cast<uint32_t>(v) >> (8 * b));
}

void test_empty_int8_matrix() {
  // An all-zero (16, 8) int8 matrix: no blocks, 16 zero row scales.
  const std::string header =
      "{\"w.i8_shape\": {\"dtype\": \"I32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
      " \"w.i8_row_ptr\": {\"dtype\": \"I32\", \"shape\": [5], \"data_offsets\": [16, 36]},"
      " \"w.i8_block_col\": {\"dtype\": \"I32\", \"shape\": [0], \"data_offsets\": [36, 36]},"
      " \"w.i8_values\": {\"dtype\": \"I8\", \"shape\": [0, 4, 4], \"data_offsets\": [36, 36]},"
      " \"w.i8_scale\": {\"dtype\": \"F32\", \"shape\": [16], \"data_offsets\": [36, 100]}}";
  std::vector<uint8_t> data(100, 0);
  const int32_t shape[4] = {16, 8, 4, 4};
  for (int i = 0; i < 4; ++i) put_i32(data, 4 * i, shape[i]);
  const std::string path = write_safetensors(header, data);
  try {
    sparsewave::SafetensorsFile f(path);
    check(f.read_i8("w.i8_values", {0, 4, 4}).empty(), "an empty I8 tensor reads as empty");
    const auto m = sparsewave::read_file_matrix(f, "w", 16, 8);
    check(m.int8_cols == 8 && m.int8.int8() && m.int8.nnz_blocks() == 0 && m.values.nonzeros() == 0,
          "an all-zero int8 matrix reads as int8, no blocks, no nonzeros");
  } catch (const std::exception& e) {
    check(false, std::string("reading an empty int8 matrix threw: ") + e.what());
  }
  std::remove(path.c_str());
}

// The message from_packed_int8 (or another build step) throws, "" when it succeeds.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
    return "";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

void test_int8_from_packed() {
  using sparsewave::BlockSparseMatrix;
  // 6 x 8 in 4x4 blocks: rows 6, 7 are padding; block (0, 1) is all zero.
  const int rows = 6, cols = 8;
  std::vector<float> w(rows * cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) w[i * cols + j] = (i < 4 && j >= 4) ? 0.0f : 0.1f * ((i * 7 + j * 3) % 11 - 5);
  BlockSparseMatrix ref = BlockSparseMatrix::from_dense(w.data(), rows, cols, 4, 4);
  ref.store_int8();
  const std::vector<int8_t> q(ref.values_i8(), ref.values_i8() + ref.n_values());
  const std::vector<float> s(ref.row_scale(), ref.row_scale() + ref.padded_rows());
  std::vector<int32_t> bcol;
  for (int32_t c : ref.col_start()) bcol.push_back(c / 4);
  const std::vector<int32_t> rp = ref.row_ptr();
  auto build = [&](std::vector<int8_t> qq, std::vector<float> ss, std::vector<int32_t> rr, std::vector<int32_t> cc,
                   int br = 4, int bc = 4) {
    return BlockSparseMatrix::from_packed_int8(rows, cols, br, bc, rr, cc, qq.data(), qq.size(), ss.data(), ss.size());
  };

  const BlockSparseMatrix m = build(q, s, rp, bcol);
  std::vector<float> a(rows * cols), b(rows * cols), x(cols), ya(rows), yb(rows);
  ref.to_dense(a.data());
  m.to_dense(b.data());
  check(m.int8() && a == b, "from_packed_int8 of store_int8's arrays: the same dequantized weights");
  for (int j = 0; j < cols; ++j) x[j] = 0.3f * j - 1.0f;
  ref.matvec(x.data(), ya.data(), false);
  m.matvec(x.data(), yb.data(), false);
  check(ya == yb, "from_packed_int8 of store_int8's arrays: the same products");

  auto expect = [&](const std::string& what, const std::function<void()>& f, const std::string& needle) {
    const std::string e = error_of(f);
    check(e.find(needle) != std::string::npos, what + ": expected an error with '" + needle + "', got '" + e + "'");
  };
  {
    auto qq = q;
    qq[0] = -128;
    expect("-128", [&] { build(qq, s, rp, bcol); }, "outside [-127, 127]");
  }
  {
    auto ss = s;
    ss.pop_back();
    expect("scale count", [&] { build(q, ss, rp, bcol); }, "row scales");
  }
  {
    auto ss = s;
    ss[1] = std::nanf("");
    expect("NaN scale", [&] { build(q, ss, rp, bcol); }, "not finite");
  }
  {
    auto ss = s;
    ss[2] = -0.5f;
    expect("negative scale", [&] { build(q, ss, rp, bcol); }, "negative");
  }
  {
    auto ss = s;
    ss[7] = 0.25f;
    expect("padding-row scale", [&] { build(q, ss, rp, bcol); }, "padding row");
  }
  {
    auto cc = bcol;
    cc.back() = 2;
    expect("block column", [&] { build(q, s, rp, cc); }, "outside [0, 2)");
  }
  {
    auto rr = rp;
    rr.push_back(rr.back());
    expect("row_ptr length", [&] { build(q, s, rr, bcol); }, "row_ptr has");
  }
  {
    auto qq = q;
    qq[qq.size() - 1] = 1;  // last block's last row is row 7: padding
    expect("padding value", [&] { build(qq, s, rp, bcol); }, "padding");
  }
  expect("16x1 blocks", [&] { build(q, s, rp, bcol, 16, 1); }, "8x4 or 4x4");

  // Swapping the block rows of an 8 x 8 int8 matrix swaps its row halves.
  std::vector<float> w8(64);
  for (int i = 0; i < 64; ++i) w8[i] = 0.01f * ((i * 13) % 17 - 8);
  BlockSparseMatrix p = BlockSparseMatrix::from_dense(w8.data(), 8, 8, 4, 4);
  p.store_int8();
  const BlockSparseMatrix sw = p.permute_block_rows({1, 0});
  std::vector<float> d0(64), d1(64);
  p.to_dense(d0.data());
  sw.to_dense(d1.data());
  bool swapped = true;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) swapped &= d1[i * 8 + j] == d0[((i + 4) % 8) * 8 + j];
  std::vector<float> y0(8), y1(8);
  p.matvec(x.data(), y0.data(), false);
  sw.matvec(x.data(), y1.data(), false);
  for (int i = 0; i < 8; ++i) swapped &= y1[i] == y0[(i + 4) % 8];
  check(sw.int8() && swapped, "permute_block_rows moves int8 rows with their scales");
}

}  // namespace

int main() {
  test_json_numbers();
  test_json_utf8();
  test_empty_tensors();
  test_empty_int8_matrix();
  test_int8_from_packed();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
