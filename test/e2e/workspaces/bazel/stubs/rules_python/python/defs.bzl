"""Offline stand-in for rules_python: re-exports Bazel's native Python rules (the tests build no Python)."""

def py_binary(**kwargs):
    native.py_binary(**kwargs)

def py_library(**kwargs):
    native.py_library(**kwargs)

def py_runtime(**kwargs):
    native.py_runtime(**kwargs)

def py_runtime_pair(**kwargs):
    native.py_runtime_pair(**kwargs)

def py_test(**kwargs):
    native.py_test(**kwargs)
