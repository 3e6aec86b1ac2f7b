// Replays inputs through the fuzz target without libFuzzer, so any compiler
// (and any sanitizer build) can run the kept crash reproducers as a test.
// Usage: fuzz_model_file_replay FILE_OR_DIR...  (a directory: all its files)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return 1;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::printf("replay %s (%zu bytes)\n", file.c_str(), bytes.size());
  std::fflush(stdout);
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int failures = 0, files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      std::vector<std::filesystem::path> inside;
      for (const auto& e : std::filesystem::directory_iterator(arg))
        if (e.is_regular_file() && e.path().extension() != ".md") inside.push_back(e.path());
      std::sort(inside.begin(), inside.end());
      for (const auto& f : inside) failures += replay(f), ++files;
    } else {
      failures += replay(arg), ++files;
    }
  }
  std::printf("%d inputs replayed\n", files);
  return failures == 0 && files > 0 ? 0 : 1;
}
