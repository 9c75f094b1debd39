# Types of resilience.py for the compiled build (docs/proxy.md).

cdef class RoutePolicy:
    cdef readonly object timeout
    cdef readonly object per_try_timeout
    cdef readonly int attempts
    cdef readonly frozenset retry_on
    cdef readonly bint non_idempotent
    cdef readonly double abort_percent
    cdef readonly int abort_status
    cdef readonly double delay_percent
    cdef readonly double delay_seconds
