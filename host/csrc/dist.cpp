// hammer's bridge to c10d, PyTorch's distributed engine: a TCPStore for the
// rendezvous and a process group (ProcessGroupGloo on CPU, ProcessGroupNCCL
// on CUDA, the latter from libhammer_nccl.so, loaded only when asked for).
//
// A plain C interface for `host/src/dist/group.rs`. Tensors cross it as the
// `at::Tensor*` handles tch already holds. No C++ exception crosses it: every
// call that can fail returns a status (or NULL) and sets `*err` to a
// malloc'd message, freed by `hammer_string_free`.

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include "ffi.hpp"
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

using hammer_ffi::copy_string;
using hammer_ffi::guarded;

namespace {

std::vector<at::Tensor> tensors_of(void** tensors, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(*static_cast<at::Tensor*>(tensors[i]));
  }
  return out;
}

// The signature of `hammer_nccl_backend` in libhammer_nccl.so (nccl.cpp).
using NcclFactory = c10d::Backend* (*)(c10d::Store*, int, int, int64_t, char**);

}  // namespace

struct hammer_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

extern "C" {

// Joins the group: the server (rank 0, unless the launcher serves the store)
// serves the TCPStore at host:port and waits for the others, every rank
// connects to it, then the backend (0 = Gloo, 1 = NCCL
// from the library at `nccl_lib`) is created over a prefix of the store.
hammer_group* hammer_group_new(const char* host, uint16_t port, int32_t rank, int32_t world,
                               bool is_server, int64_t timeout_ms, int32_t backend, const char* nccl_lib,
                               char** err) {
  hammer_group* group = nullptr;
  guarded(err, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions opts;
    opts.port = port;
    opts.isServer = is_server;
    opts.numWorkers = static_cast<size_t>(world);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("hammer/pg", store);
    c10::intrusive_ptr<c10d::Backend> pg;
    if (backend == 0) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname != nullptr && ifname[0] != '\0') {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world, options);
    } else {
      void* lib = dlopen(nccl_lib, RTLD_NOW | RTLD_GLOBAL);
      if (lib == nullptr) {
        throw std::runtime_error(std::string("cannot load NCCL support: ") + dlerror());
      }
      auto factory = reinterpret_cast<NcclFactory>(dlsym(lib, "hammer_nccl_backend"));
      if (factory == nullptr) {
        throw std::runtime_error(std::string(nccl_lib) + " has no hammer_nccl_backend");
      }
      char* nccl_err = nullptr;
      c10d::Backend* raw = factory(prefixed.get(), rank, world, timeout_ms, &nccl_err);
      if (raw == nullptr) {
        std::string message = nccl_err != nullptr ? nccl_err : "unknown NCCL error";
        std::free(nccl_err);
        throw std::runtime_error(message);
      }
      pg = c10::intrusive_ptr<c10d::Backend>::reclaim(raw);
    }
    group = new hammer_group{store, pg, timeout};
  });
  return group;
}

// The backend's name (`gloo` or `nccl`), malloc'd.
char* hammer_group_backend_name(hammer_group* group) {
  return copy_string(group->backend->getBackendName());
}

// Sums each tensor in place across ranks (one all-reduce of the list).
int32_t hammer_group_all_reduce_sum(hammer_group* group, void** tensors, size_t n, char** err) {
  return guarded(err, [&] {
           auto list = tensors_of(tensors, n);
           c10d::AllreduceOptions opts;
           opts.reduceOp = c10d::ReduceOp::SUM;
           opts.timeout = group->timeout;
           auto work = group->backend->allreduce(list, opts);
           work->wait(group->timeout);
         })
             ? 0
             : -1;
}

// Fills `output[r]` with rank r's `input` (all of input's shape).
int32_t hammer_group_all_gather(hammer_group* group, void** output, void* input, char** err) {
  return guarded(err, [&] {
           std::vector<std::vector<at::Tensor>> outputs(1);
           outputs[0] = tensors_of(output, static_cast<size_t>(group->backend->getSize()));
           std::vector<at::Tensor> inputs{*static_cast<at::Tensor*>(input)};
           c10d::AllgatherOptions opts;
           opts.timeout = group->timeout;
           group->backend->allgather(outputs, inputs, opts)->wait(group->timeout);
         })
             ? 0
             : -1;
}

// Overwrites each tensor with rank `root`'s.
int32_t hammer_group_broadcast(hammer_group* group, void** tensors, size_t n, int32_t root,
                               char** err) {
  return guarded(err, [&] {
           auto list = tensors_of(tensors, n);
           c10d::BroadcastOptions opts;
           opts.rootRank = root;
           opts.timeout = group->timeout;
           for (auto& tensor : list) {
             std::vector<at::Tensor> one{tensor};
             group->backend->broadcast(one, opts)->wait(group->timeout);
           }
         })
             ? 0
             : -1;
}

// Waits until every rank has reached it.
int32_t hammer_group_barrier(hammer_group* group, char** err) {
  return guarded(err, [&] {
           c10d::BarrierOptions opts;
           opts.timeout = group->timeout;
           group->backend->barrier(opts)->wait(group->timeout);
         })
             ? 0
             : -1;
}

// Adds `value` to the store's counter `key` and returns its new value
// (-1 with `*err` set on failure: the store's host is gone).
int64_t hammer_store_add(hammer_group* group, const char* key, int64_t value, char** err) {
  int64_t out = -1;
  guarded(err, [&] { out = group->store->add(std::string("hammer/") + key, value); });
  return out;
}

void hammer_group_free(hammer_group* group) {
  delete group;
}

void hammer_string_free(char* s) {
  std::free(s);
}

}  // extern "C"
