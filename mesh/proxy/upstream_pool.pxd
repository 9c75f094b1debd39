# Types of upstream_pool.py for the compiled build: C fields instead of instance dicts (docs/proxy.md).

cimport cython

from mesh.proxy.bytebuild cimport hop_kind
from mesh.proxy.http1 cimport add_header


@cython.freelist(64)  # one per request in flight: reuse the memory
cdef class UpstreamResponse:
    cdef public int status
    cdef public Py_ssize_t size
    cdef public bint keep_alive
    cdef public bint complete
    cdef public object error
    cdef public object sink
    cdef public object length
    cdef public object connection
    cdef public object notify
    cdef public bint head_only
    cdef public Py_ssize_t buffer_limit
    cdef public list lines
    cdef public list chunks

    cpdef wake(self)
    cpdef on_error(self, error)


cdef class UpstreamConnection:
    cdef public object pool
    cdef public object transport
    cdef public object parser
    cdef object parse
    cdef object status_code
    cdef object parser_keep_alive
    cdef object send_out
    cdef public UpstreamResponse response
    cdef public bint closed
    cdef public bint reused
    cdef public bint reset_parser
    cdef public double idle_since
    cdef public object source

    cpdef send(self, UpstreamResponse response, bytes data)
    cpdef close(self)


cdef class EndpointPool:
    cdef public str name
    cdef public str host
    cdef public int port
    cdef public double connect_timeout
    cdef public double idle_timeout
    cdef public int max_connections
    cdef public int max_pending
    cdef public list idle
    cdef public int connections
    cdef public int active
    cdef public object waiters
    cdef public bint retired
    cdef public int consecutive_failures
    cdef public double ejected_until
    cdef public int times_ejected
    cdef public object tls_context
    cdef public object identity

    @cython.locals(conn=UpstreamConnection)
    cpdef UpstreamConnection take_idle(self)
    cpdef release(self, UpstreamConnection conn, reusable)
    cdef bint _wake_one(self, conn) except -1
