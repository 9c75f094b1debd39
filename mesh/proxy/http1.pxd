# Types of http1.py for the compiled build (docs/proxy.md).

cimport cython

cpdef add_header(list pieces, bytes name, bytes value)
cpdef list drop_listed(list pieces, connection)
@cython.locals(lines=dict, line=bytes)
cpdef bytes status_line(int status)
