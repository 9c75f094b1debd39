# cython: language_level=3, boundscheck=False, wraparound=False
"""bytebuild.py in C: the same functions and results, without a Python object per piece or per id.

bytebuild.py is the reference and documents the contract; keep the two in step (the unit tests run both).
"""

import os

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, strncasecmp

from mesh.proxy.http1 import END_TO_END, HOP_KINDS


cpdef bytes join(list pieces):
    cdef Py_ssize_t total = 0, size, i, count = len(pieces)
    cdef object piece
    for i in range(count):
        piece = pieces[i]
        if not PyBytes_CheckExact(piece):
            return b"".join(pieces)  # a bytearray or memoryview: let CPython handle the buffer
        total += PyBytes_GET_SIZE(piece)
    joined = PyBytes_FromStringAndSize(NULL, total)
    cdef char *at = PyBytes_AS_STRING(joined)
    for i in range(count):
        piece = pieces[i]
        size = PyBytes_GET_SIZE(piece)
        memcpy(at, PyBytes_AS_STRING(piece), size)
        at += size
    return joined


cpdef bytes content_length(Py_ssize_t size):
    cdef char digits[24]
    cdef int count = 0
    if size < 0:
        raise ValueError("a body size cannot be negative")
    while True:
        digits[count] = 48 + size % 10
        count += 1
        size //= 10
        if size == 0:
            break
    line = PyBytes_FromStringAndSize(NULL, 18 + count)
    cdef char *at = PyBytes_AS_STRING(line)
    memcpy(at, b"content-length: ", 16)
    cdef int i
    for i in range(count):
        at[16 + i] = digits[count - 1 - i]
    at[16 + count] = 13
    at[17 + count] = 10
    return line


# xorshift128+: ids need uniqueness, not secrecy. Seeded from the OS, again in a forked child.
cdef uint64_t _state0 = 0, _state1 = 0


def _seed():
    global _state0, _state1
    seed = os.urandom(16)
    _state0 = int.from_bytes(seed[:8], "little") | 1
    _state1 = int.from_bytes(seed[8:], "little")


_seed()
os.register_at_fork(after_in_child=_seed)


cdef inline uint64_t _next() noexcept:
    global _state0, _state1
    cdef uint64_t s1 = _state0, s0 = _state1
    _state0 = s0
    s1 ^= s1 << 23
    _state1 = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26)
    return _state1 + s0


cdef const char *_HEX = b"0123456789abcdef"


cdef inline void _write_hex(char *at, uint64_t value) noexcept:
    cdef int i
    for i in range(15, -1, -1):
        at[i] = _HEX[value & 15]
        value >>= 4


# traceparent: 00-<trace>-<span>-01 / x-b3-traceid: <trace> / x-b3-spanid: <span> / x-b3-sampled: 1
cdef bytes _TEMPLATE = (
    b"traceparent: 00-" + b"T" * 32 + b"-" + b"S" * 16 + b"-01\r\nx-b3-traceid: " + b"T" * 32
    + b"\r\nx-b3-spanid: " + b"S" * 16 + b"\r\nx-b3-sampled: 1\r\n"
)
cdef Py_ssize_t _TRACE_W3C = _TEMPLATE.index(b"T")
cdef Py_ssize_t _SPAN_W3C = _TEMPLATE.index(b"S")
cdef Py_ssize_t _TRACE_B3 = _TEMPLATE.index(b"T", _TRACE_W3C + 32)
cdef Py_ssize_t _SPAN_B3 = _TEMPLATE.index(b"S", _SPAN_W3C + 16)


cpdef bytes new_trace_headers():
    cdef uint64_t high = _next(), low = _next(), span = _next()
    if high == 0 and low == 0:
        low = 1  # all zeros is an invalid trace id (W3C)
    headers = PyBytes_FromStringAndSize(PyBytes_AS_STRING(_TEMPLATE), PyBytes_GET_SIZE(_TEMPLATE))
    cdef char *at = PyBytes_AS_STRING(headers)
    _write_hex(at + _TRACE_W3C, high)
    _write_hex(at + _TRACE_W3C + 16, low)
    _write_hex(at + _SPAN_W3C, span)
    memcpy(at + _TRACE_B3, at + _TRACE_W3C, 32)
    memcpy(at + _SPAN_B3, at + _SPAN_W3C, 16)
    return headers


# HOP_KINDS by name length: a header name is compared only with the few of its own length.
cdef list _HOP_BY_LENGTH = [[] for _ in range(64)]
for _name, _kind in HOP_KINDS.items():
    _HOP_BY_LENGTH[len(_name)].append((_name, _kind))
cdef int _END_TO_END = END_TO_END


cpdef int hop_kind(bytes name) except -1:
    cdef Py_ssize_t size = PyBytes_GET_SIZE(name)
    cdef tuple entry
    if size >= 64:
        return _END_TO_END
    for entry in <list>_HOP_BY_LENGTH[size]:
        if strncasecmp(PyBytes_AS_STRING(name), PyBytes_AS_STRING(<bytes>entry[0]), size) == 0:
            return <int>entry[1]
    return _END_TO_END
