{
  "targets": [
    {
      "target_name": "sticky_native",
      "sources": [
        # Registration and the N-API wrappers (native/napi/).
        "native/binding.cc",
        "native/napi/arguments.cc",
        "native/napi/primitives.cc",
        "native/napi/rejections.cc",
        "native/napi/test_hooks.cc",
        # Plain C++, every platform.
        "native/siphash.cc",
        "native/sid.cc",
        "native/address.cc",
        "native/cidr.cc",
        "native/http_head.cc",
        "native/proxy_header.cc",
        "native/rendezvous.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO"
      },
      "conditions": [
        # Windows has no epoll or kqueue: the addon there has the primitives
        # but no HeadPeeker, and the header router reads the first chunk instead.
        ["OS!='win'", {
          "sources": ["native/head_copy.cc", "native/peeker.cc", "native/napi/poll_owner.cc", "native/napi/head_peeker.cc"]
        }],
        # Kernel steering needs SO_ATTACH_REUSEPORT_CBPF (Linux 4.5+); the
        # native channel epoll, timerfd and accept4.
        ["OS=='linux'", {
          "sources": [
            "native/steering.cc",
            "native/napi/steering.cc",
            "native/dispatcher.cc",
            "native/channel_receiver.cc",
            "native/napi/dispatcher.cc",
            "native/napi/channel_receiver.cc"
          ]
        }]
      ]
    }
  ]
}
