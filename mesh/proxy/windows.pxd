# Types of windows.py for the compiled build (docs/proxy.md).

from mesh.proxy.metrics cimport bucket_of

cdef class _Second:
    cdef public long long second
    cdef public long long requests
    cdef public long long errors
    cdef public dict latency
    cdef public double latency_total


cdef class Window:
    cdef public object seconds
    cdef public _Second current

    cpdef record(self, long long second, double latency_ms, bint error)
