# Types of metrics.py for the compiled build (docs/proxy.md).

cdef class RouteCell:
    cdef public list by_class
    cdef public list buckets
    cdef public double total_seconds
    cdef public long long retries

    cpdef observe(self, long status, double seconds)


cdef class Gauge:
    cdef public long long value
