#include "synth/step_team.h"

namespace sparsewave {

namespace {

template <class Ready>
void wait_until(Ready ready) {
  for (int spins = 0; !ready(); ++spins)
    if (spins > 256) std::this_thread::yield();  // a busy machine: let the other thread run
}

}  // namespace

StepTeam::StepTeam(int parts) : parts_(parts < 1 ? 1 : parts), errors_(static_cast<std::size_t>(parts_)) {
  for (int p = 1; p < parts_; ++p) {
    try {
      threads_.emplace_back(&StepTeam::serve, this, p);
    } catch (...) {
      break;  // the caller runs the parts left without a thread
    }
  }
}

StepTeam::~StepTeam() {
  round_.store(-1, std::memory_order_release);
  for (auto& t : threads_) t.join();
}

void StepTeam::serve(int part) {
  int64_t seen = 0;
  for (;;) {
    int64_t r = 0;
    wait_until([&] { return (r = round_.load(std::memory_order_acquire)) != seen; });
    if (r < 0) return;
    seen = r;
    try {
      (*work_)(part);
    } catch (...) {
      errors_[static_cast<std::size_t>(part)] = std::current_exception();
    }
    running_.fetch_sub(1, std::memory_order_release);
  }
}

void StepTeam::run(const std::function<void(int)>& work) {
  const int started = static_cast<int>(threads_.size());
  work_ = &work;
  running_.store(started, std::memory_order_relaxed);
  round_.fetch_add(1, std::memory_order_release);  // publishes work_ and running_ to the team
  try {
    work(0);
    for (int p = started + 1; p < parts_; ++p) work(p);
  } catch (...) {
    errors_[0] = std::current_exception();
  }
  wait_until([&] { return running_.load(std::memory_order_acquire) == 0; });
  for (auto& e : errors_)
    if (e) {
      std::exception_ptr first = e;
      for (auto& x : errors_) x = nullptr;
      std::rethrow_exception(first);
    }
}

}  // namespace sparsewave
