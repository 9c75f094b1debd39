# Types of deadlines.py for the compiled build (docs/proxy.md).

cdef class Deadlines:
    cdef public object loop
    cdef public set watched
    cdef object _handle

    cpdef watch(self, item)
    cpdef unwatch(self, item)
