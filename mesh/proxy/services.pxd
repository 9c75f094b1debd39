# Types of services.py for the compiled build (docs/proxy.md).

from mesh.proxy.balancer cimport Balancer
from mesh.proxy.metrics cimport Gauge
from mesh.proxy.routing cimport RouteTable
from mesh.proxy.windows cimport Window


cdef class BackendRuntime:
    cdef public str name
    cdef public Balancer balancer
    cdef public Window window
    cdef public Gauge mirrored
    cdef public dict ejections


cdef class ServiceRuntime:
    cdef public object config
    cdef public str name
    cdef public RouteTable table
    cdef public dict backends
    cdef public dict policies
    cdef public dict cells
    cdef public object outlier
    cdef public Gauge in_flight
    cdef public object sticky_cookie
    cdef public bytes sticky_header
    cdef public BackendRuntime mirror
    cdef public double mirror_percent


cdef class Listener:
    cdef public str address
    cdef public int port
    cdef public dict by_host
    cdef public ServiceRuntime fallback
    cdef public bint draining

    cpdef ServiceRuntime service_for(self, host)
