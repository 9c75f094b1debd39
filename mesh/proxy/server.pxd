# Types of server.py for the compiled build: C fields instead of instance dicts (docs/proxy.md).

cimport cython

from mesh.proxy.bytebuild cimport join
from mesh.proxy.http1 cimport add_header, drop_listed
from mesh.proxy.services cimport BackendRuntime, Listener, ServiceRuntime
from mesh.proxy.upstream_pool cimport UpstreamConnection


@cython.freelist(64)  # one per request in flight: reuse the memory
cdef class ClientRequest:
    cdef public ClientConnection conn
    cdef public str method
    cdef public bytes method_raw
    cdef public str version
    cdef public bint keep_alive
    cdef public bint chunked
    cdef public Py_ssize_t body_size
    cdef public bint replayable
    cdef public bint complete
    cdef public UpstreamConnection sink
    cdef public bint answered
    cdef public bytes url
    cdef public dict lowered
    cdef public list lines
    cdef public list body

    cpdef feed(self, bytes data)
    cpdef finish(self)
    cpdef bytes attach(self, UpstreamConnection upstream, bytes head)


cdef class ClientConnection:
    cdef public object proxy
    cdef public Listener listener
    cdef public object transport
    cdef public object parser
    cdef object parse
    cdef object parser_method
    cdef object parser_keep_alive
    cdef object send_out
    cdef object is_closing
    cdef public ClientRequest request
    cdef public object queue
    cdef public bint running
    cdef public object exchange
    cdef public bint closing
    cdef public bint half_closed
    cdef public str client_ip
    cdef public bytes client_address
    cdef public UpstreamConnection streaming_from

    cpdef write(self, bytes data)
    cpdef close_after_answer(self)
    cpdef abort(self)
    cdef _dispatch(self, ClientRequest request)
    cpdef _serve(self, ClientRequest request)
    cpdef finished(self, ClientRequest request, ServiceRuntime service, str route, BackendRuntime backend, status, attempts)
    @cython.locals(pieces=list, lowered=dict)
    cpdef bytes upstream_head(self, ClientRequest request, bytes trace)
    cpdef respond_error(self, ClientRequest request, status, str message)
