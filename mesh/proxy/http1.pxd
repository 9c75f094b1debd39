# Types of http1.py for the compiled build (docs/proxy.md).

cpdef list drop_listed(list lines, connection)
