# Types of tracing.py for the compiled build (docs/proxy.md).

from mesh.proxy.bytebuild cimport new_trace_headers

cpdef bytes trace_headers(dict headers)
