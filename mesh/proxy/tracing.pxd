# Types of tracing.py for the compiled build (docs/proxy.md).

cpdef bytes trace_headers(dict headers)
