// A fork-join team for loops of short steps (tens of microseconds): each
// step runs work(part) on every part at once, the calling thread being part
// 0, and returns when all parts are done. Waiting threads spin, then yield:
// waking threads through the OS every step would cost as much as the step.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace sparsewave {

class StepTeam {
 public:
  // Starts parts - 1 threads; where the system will not start one, the
  // calling thread runs that part too (same result, later).
  explicit StepTeam(int parts);
  ~StepTeam();
  StepTeam(const StepTeam&) = delete;
  StepTeam& operator=(const StepTeam&) = delete;

  int parts() const { return parts_; }
  // work(p) for every p in [0, parts), concurrently; rethrows the first
  // exception a part threw.
  void run(const std::function<void(int)>& work);

 private:
  void serve(int part);

  int parts_;
  std::vector<std::thread> threads_;  // thread i runs part i + 1
  const std::function<void(int)>* work_ = nullptr;
  std::atomic<int64_t> round_{0};   // bumped to start a step; -1 stops the team
  std::atomic<int> running_{0};     // started parts still working on this step
  std::vector<std::exception_ptr> errors_;
};

}  // namespace sparsewave
