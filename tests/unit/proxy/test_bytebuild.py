"""bytebuild's two builds (C from the .pyx, plain Python from the .py) give the same results."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from mesh.proxy import bytebuild
from mesh.proxy.http1 import CONNECTION, CONTENT_LENGTH, DROP, END_TO_END, HOP_BY_HOP

SOURCE = Path(bytebuild.__file__).with_name("bytebuild.py")


def plain_python() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bytebuild_plain", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILDS = [pytest.param(bytebuild, id="as-imported"), pytest.param(plain_python(), id="plain-python")]
TRACE = re.compile(
    rb"traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-01\r\n"
    rb"x-b3-traceid: ([0-9a-f]{32})\r\nx-b3-spanid: ([0-9a-f]{16})\r\nx-b3-sampled: 1\r\n"
)


@pytest.mark.parametrize("build", BUILDS)
def test_join_concatenates_bytes_and_accepts_other_buffers(build):
    assert build.join([]) == b""
    assert build.join([b"GET ", b"/", b"", b" HTTP/1.1\r\n"]) == b"GET / HTTP/1.1\r\n"
    assert build.join([b"a", bytearray(b"b"), memoryview(b"c")]) == b"abc"
    big = [bytes([i % 256]) * 1000 for i in range(100)]
    assert build.join(big) == b"".join(big)


@pytest.mark.parametrize("build", BUILDS)
def test_content_length_lines(build):
    for size in (0, 7, 10, 12, 99, 100, 65536, 10**15):
        assert build.content_length(size) == b"content-length: %d\r\n" % size
    with pytest.raises(ValueError):
        build.content_length(-1)


@pytest.mark.parametrize("build", BUILDS)
def test_new_traces_carry_the_same_fresh_ids_in_both_formats(build):
    seen = set()
    for _ in range(2000):
        found = TRACE.fullmatch(build.new_trace_headers())
        assert found, "headers not in the expected shape"
        trace, span, b3_trace, b3_span = found.groups()
        assert (trace, span) == (b3_trace, b3_span)
        assert trace != b"0" * 32
        seen.add(trace)
    assert len(seen) == 2000


@pytest.mark.parametrize("build", BUILDS)
def test_hop_by_hop_names_are_sorted_in_any_case_and_nothing_else_is(build):
    for name in HOP_BY_HOP:
        expected = {b"content-length": CONTENT_LENGTH, b"connection": CONNECTION}.get(name, DROP)
        for spelling in (name, name.upper(), name.title()):
            assert build.hop_kind(spelling) == expected, spelling
    for name in (b"Date", b"Server", b"Content-Type", b"Content-Lengthy", b"T", b"", b"x" * 200, b"Upgrades"):
        assert build.hop_kind(name) == END_TO_END
