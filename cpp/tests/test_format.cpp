// C++ format test (ctest): the JSON reader takes exactly what Python's json
// takes (no leading zeros, valid UTF-8 only), and zero-size tensors (an
// all-zero packed matrix) read cleanly. Run it in a UBSan build too: reading
// an empty tensor must not pass a null pointer to memcpy.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "format/json.h"
#include "format/matrix_reader.h"
#include "format/safetensors.h"

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

}  // namespace

int main() {
  test_json_numbers();
  test_json_utf8();
  test_empty_tensors();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
