// Times sticky-native's plain C++ primitives directly, with no N-API in the way:
// scan_head over a request head read from a file, and siphash24 of the 16-byte
// address it finds. bench/parse.js compiles this against native/http_head.cc,
// native/address.cc and native/siphash.cc (the same sources the addon builds,
// at the addon's -O3) and runs it on the same 1 KiB head.
//
// usage: parse_native <head-file> <header-lower> <runs> <batch-ms>
// prints: {"scan_head":ns,"siphash24":ns,"both":ns} (median ns per call over runs)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../native/http_head.h"
#include "../native/siphash.h"

namespace {

// The seed's rules: the leftmost address of the first matching line.
const sticky::HeadRules kRules{};

volatile uint64_t g_sink;

template <typename F>
double ns_per_call(F&& f, uint64_t iterations) {
  uint64_t sink = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < iterations; i++) sink ^= f();
  auto t1 = std::chrono::steady_clock::now();
  g_sink = g_sink ^ sink;
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iterations);
}

template <typename F>
double median_ns(F&& f, int runs, double batch_ms) {
  // Calibrate: grow the iteration count until one batch lasts batch_ms.
  uint64_t iterations = 1000;
  for (int step = 0; step < 30; step++) {
    double ns = ns_per_call(f, iterations) * static_cast<double>(iterations);
    if (ns >= batch_ms * 1e6 * 0.5) {
      iterations = static_cast<uint64_t>(static_cast<double>(iterations) * batch_ms * 1e6 / ns) + 1;
      break;
    }
    iterations *= 4;
  }
  std::vector<double> samples;
  for (int r = 0; r < runs; r++) samples.push_back(ns_per_call(f, iterations));
  std::sort(samples.begin(), samples.end());
  size_t mid = samples.size() / 2;
  return samples.size() % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: parse_native <head-file> <header-lower> <runs> <batch-ms>\n");
    return 2;
  }
  FILE* file = std::fopen(argv[1], "rb");
  if (!file) {
    std::perror(argv[1]);
    return 1;
  }
  std::vector<uint8_t> head(1 << 16);
  size_t len = std::fread(head.data(), 1, head.size(), file);
  std::fclose(file);
  head.resize(len);
  const char* header = argv[2];
  const size_t header_len = std::strlen(header);
  const int runs = std::max(1, std::atoi(argv[3]));
  const double batch_ms = std::max(1.0, std::atof(argv[4]));
  const size_t limit = 16384;
  uint8_t key[16];
  for (int i = 0; i < 16; i++) key[i] = static_cast<uint8_t>(i * 37 + 11);

  sticky::HeadScan first = sticky::scan_head(head.data(), head.size(), header, header_len, limit, kRules);
  if (first.status != sticky::HeadStatus::Found) {
    std::fprintf(stderr, "scan_head did not find %s in the head\n", header);
    return 1;
  }
  uint8_t address[16];
  std::memcpy(address, first.address, 16);

  // The head pointer goes through a volatile so the compiler cannot hoist the scan out of the loop.
  const uint8_t* volatile head_ptr = head.data();
  const uint8_t* volatile address_ptr = address;
  double scan = median_ns([&] {
    sticky::HeadScan s = sticky::scan_head(head_ptr, len, header, header_len, limit, kRules);
    return static_cast<uint64_t>(s.address[15]) + static_cast<uint64_t>(s.status);
  }, runs, batch_ms);
  double hash = median_ns([&] { return sticky::siphash24(key, address_ptr, 16); }, runs, batch_ms);
  double both = median_ns([&] {
    sticky::HeadScan s = sticky::scan_head(head_ptr, len, header, header_len, limit, kRules);
    return sticky::siphash24(key, s.address, 16);
  }, runs, batch_ms);
  std::printf("{\"scan_head\":%.1f,\"siphash24\":%.1f,\"both\":%.1f}\n", scan, hash, both);
  return 0;
}
