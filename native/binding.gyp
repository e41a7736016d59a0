# The oneDNN kernels of the malt-native TF.js backend. Built by `npm install` (scripts/build-native.mjs)
# when Debian's libdnnl-dev (oneDNN 2.x) is present; Malt runs on the pure-JS CPU backend without it.
{
  "targets": [
    {
      "target_name": "malt_native",
      "sources": [
        "src/addon.cc",
        "src/conv.cc",
        "src/pool.cc",
        "src/matmul.cc",
        "src/elementwise.cc",
        "src/reduce.cc",
        "src/norm.cc",
        "src/optimizer.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # oneDNN's C++ API reports errors by throwing dnnl::error: exceptions must be on, and every
      # entry point turns them into JS errors (common.h). OpenMP: Debian's libdnnl is an OpenMP build,
      # and our own loops share its thread pool and thread count.
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      # -ffp-contract=off: no fused multiply-adds behind our back, so float32 arithmetic rounds
      # step by step exactly as TF.js's kernels do. -fno-math-errno: lets sqrt vectorise (errno is never read).
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fexceptions", "-frtti", "-fopenmp", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
