"""Offline stand-in for rules_proto: re-exports Bazel's native proto rules (the tests build no protos)."""

def proto_library(**kwargs):
    native.proto_library(**kwargs)

def proto_lang_toolchain(**kwargs):
    native.proto_lang_toolchain(**kwargs)
