# The C signatures of bytebuild.pyx, cimported by the compiled hot path (docs/proxy.md).

cpdef bytes join(list pieces)
cpdef bytes content_length(Py_ssize_t size)
cpdef bytes new_trace_headers()
cpdef int hop_kind(bytes name) except -1
