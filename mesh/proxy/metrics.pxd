# Types of metrics.py for the compiled build (docs/proxy.md).

cimport cython


@cython.locals(low=Py_ssize_t, high=Py_ssize_t, middle=Py_ssize_t, bound=double)
cpdef Py_ssize_t bucket_of(tuple bounds, double value) except -1

cdef class RouteCell:
    cdef public list by_class
    cdef public list buckets
    cdef public double total_seconds
    cdef public long long retries

    cpdef observe(self, long status, double seconds)


cdef class Gauge:
    cdef public long long value
