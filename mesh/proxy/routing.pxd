# Types of routing.py for the compiled build (docs/proxy.md).

cimport cython

cdef class RequestFacts:
    cdef public str method
    cdef public bytes url
    cdef public dict headers
    cdef public object _cookies


cdef class WeightedSplit:
    cdef public dict weights
    cdef public list names
    cdef public list bounds
    cdef public long total
    cdef public frozenset active

    @cython.locals(draw=double, index=Py_ssize_t, bound=double)
    cpdef str pick(self, sticky_choice=*)


cdef class CompiledRoute:
    cdef public str name
    cdef public WeightedSplit split
    cdef public list matches

    cpdef bint applies_to(self, RequestFacts facts) except -1


cdef class RouteTable:
    cdef public list routes
    cdef public CompiledRoute default

    @cython.locals(route=CompiledRoute)
    cpdef CompiledRoute select(self, RequestFacts facts)
