# Types of http1.py for the compiled build (docs/proxy.md).

cpdef add_header(list pieces, bytes name, bytes value)
cpdef list drop_listed(list pieces, connection)
cpdef bytes status_line(int status)
