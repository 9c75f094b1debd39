# Types of balancer.py for the compiled build (docs/proxy.md).

from mesh.proxy.upstream_pool cimport EndpointPool


cdef class Balancer:
    cdef public list endpoints
    cdef public EndpointPool only
    cdef public int next_index
    cdef public object pick
