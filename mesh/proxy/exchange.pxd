# Types of exchange.py for the compiled build: C fields instead of instance dicts (docs/proxy.md).

cimport cython

from mesh.proxy.balancer cimport Balancer
from mesh.proxy.bytebuild cimport content_length, join
from mesh.proxy.deadlines cimport Deadlines
from mesh.proxy.http1 cimport add_header, drop_listed, status_line
from mesh.proxy.metrics cimport RouteCell
from mesh.proxy.resilience cimport RoutePolicy
from mesh.proxy.services cimport BackendRuntime, ServiceRuntime
from mesh.proxy.server cimport ClientConnection, ClientRequest
from mesh.proxy.tracing cimport trace_headers
from mesh.proxy.upstream_pool cimport EndpointPool, UpstreamConnection, UpstreamResponse


@cython.freelist(64)  # one per request in flight: reuse the memory
cdef class Exchange:
    cdef public ClientConnection client
    cdef public ClientRequest request
    cdef public ServiceRuntime service
    cdef public str route_name
    cdef public BackendRuntime backend
    cdef public RoutePolicy policy
    cdef public bytes set_cookie
    cdef public double started
    cdef public int attempt
    cdef public bint expired
    cdef public bint done
    cdef public bytes head
    cdef public EndpointPool endpoint
    cdef public UpstreamConnection upstream
    cdef public UpstreamResponse response
    cdef public object waiting
    cdef public double deadline_at
    cdef public double try_deadline_at
    cdef public double next_deadline

    @cython.locals(deadlines=Deadlines)
    cpdef start(self)
    cpdef _begin(self)
    @cython.locals(balancer=Balancer, endpoint=EndpointPool, upstream=UpstreamConnection)
    cdef _try(self)
    @cython.locals(deadlines=Deadlines)
    cdef _send(self, UpstreamConnection upstream)
    @cython.locals(endpoint=EndpointPool, upstream=UpstreamConnection, response=UpstreamResponse, request=ClientRequest)
    cpdef _answered(self)
    cdef _tried(self, str failure)
    @cython.locals(request=ClientRequest, client=ClientConnection, pieces=list)
    cdef tuple _head(self, UpstreamResponse response, streaming)
    cdef _write_whole(self, UpstreamResponse response)
    cpdef drop(self, status)
    cdef _fail_with(self, status, str message)
    @cython.locals(cell=RouteCell, deadlines=Deadlines)
    cpdef _finish(self, status)
