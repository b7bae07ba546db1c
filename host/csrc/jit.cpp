// hammer's reach into a TorchScript module beyond what tch's CModule offers:
// the module's named buffers (BatchNorm's running statistics), which
// `hammer export` writes beside the parameters so that the state dict loads
// into PyTorch with `strict=True`.
//
// A plain C interface for `host/src/model/torchscript.rs`; tensors leave as
// new `at::Tensor*` handles, which tch takes ownership of.

#include <sstream>
#include <string>

#include <torch/script.h>
#include "ffi.hpp"

extern "C" {

// Loads the module `torch.jit.save` wrote into `data` (`len` bytes) on the
// CPU and calls `each(ctx, name, tensor)` for each of its buffers, in
// `named_buffers()` order. Returns false and sets `*err` on failure.
bool hammer_jit_named_buffers(const char* data, size_t len, void* ctx,
                              void (*each)(void*, const char*, void*), char** err) {
  return hammer_ffi::guarded(err, [&] {
    std::istringstream in(std::string(data, len));
    torch::jit::Module module = torch::jit::load(in, torch::kCPU);
    for (const auto& buffer : module.named_buffers(/*recurse=*/true)) {
      each(ctx, buffer.name.c_str(), new at::Tensor(buffer.value));
    }
  });
}

}  // extern "C"
