// ProcessGroupNCCL for hammer's c10d bridge, built as libhammer_nccl.so
// against libtorch's CUDA library. `dist.cpp` loads it (dlopen) only when a
// distributed job runs on CUDA, after `host/src/cuda.rs` has loaded
// libtorch_cuda.so: hammer itself never links CUDA.

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

extern "C" {

// A new NCCL backend over `store` (borrowed; the backend keeps a reference),
// or NULL with `*err` set (malloc'd) on failure.
c10d::Backend* hammer_nccl_backend(c10d::Store* store, int rank, int size, int64_t timeout_ms,
                                   char** err) {
  try {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = std::chrono::milliseconds(timeout_ms);
    auto shared = c10::intrusive_ptr<c10d::Store>::unsafe_reclaim_from_nonowning(store);
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(shared, rank, size, options);
    return pg.release();
  } catch (const c10::Error& e) {
    const char* what = e.what_without_backtrace();
    *err = static_cast<char*>(std::malloc(std::strlen(what) + 1));
    if (*err != nullptr) {
      std::strcpy(*err, what);
    }
    return nullptr;
  } catch (const std::exception& e) {
    const char* what = e.what();
    *err = static_cast<char*>(std::malloc(std::strlen(what) + 1));
    if (*err != nullptr) {
      std::strcpy(*err, what);
    }
    return nullptr;
  }
}

}  // extern "C"
