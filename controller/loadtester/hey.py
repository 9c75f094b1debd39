"""Flagger manifests start load with `cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"`.

When `hey` is not installed, the loadtester runs the equivalent built-in load instead, so those manifests
produce traffic unchanged. hey's rate is per worker (`-q` x `-c` in all); a command without `-q` asks for
"as fast as possible", which a steady-rate generator cannot honour, so it is refused with a hint.
"""

from __future__ import annotations

import shlex

from controller.api.durations import parse_duration
from controller.loadtester.load import LoadSpec, LoadSpecError, parse_headers

# hey flags that take a value, and those that are switches (accepted and ignored).
_VALUED = {"n", "c", "q", "z", "m", "H", "t", "A", "d", "T", "host", "o", "a", "x", "cpus", "D"}
_SWITCHES = {"h2", "disable-compression", "disable-keepalive", "disable-redirects"}
_UNSUPPORTED = {"o", "a", "x", "D"}


def is_hey(command: str) -> bool:
    words = command.split()
    return bool(words) and words[0].rsplit("/", 1)[-1] == "hey"


def hey_load(command: str) -> LoadSpec:
    """The built-in load that matches a `hey` command line; LoadSpecError says what cannot be matched."""
    try:
        words = shlex.split(command)[1:]
    except ValueError as exc:
        raise LoadSpecError(f"hey: {exc}") from exc
    flags: dict[str, str] = {}
    headers: list[str] = []
    url = ""
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-"):
            url = word
            i += 1
            continue
        name, eq, value = word.lstrip("-").partition("=")
        if name in _SWITCHES:
            i += 1
            continue
        if name not in _VALUED:
            raise LoadSpecError(f"hey: flag -{name} is not supported by the built-in load generator")
        if not eq:
            if i + 1 >= len(words):
                raise LoadSpecError(f"hey: flag -{name} needs a value")
            value = words[i + 1]
            i += 1
        i += 1
        if name in _UNSUPPORTED:
            raise LoadSpecError(f"hey: flag -{name} is not supported by the built-in load generator")
        if name == "H":
            headers.append(value)
        else:
            flags[name] = value
    return _spec(url, flags, headers)


def _spec(url: str, flags: dict[str, str], header_lines: list[str]) -> LoadSpec:
    if "q" not in flags:
        raise LoadSpecError(
            "hey without -q runs as fast as it can, which a steady-rate generator cannot do: add -q (per "
            "worker) or use metadata.type: load with a rate"
        )
    try:
        concurrency = int(flags.get("c", "50"))
        rate = float(flags["q"]) * concurrency
        duration = parse_duration(flags["z"]) if "z" in flags else int(flags.get("n", "200")) / rate
        timeout = float(flags.get("t", "20"))
    except ValueError as exc:
        raise LoadSpecError(f"hey: {exc}") from exc
    headers = parse_headers("\n".join(header_lines))
    for flag, header in (("A", "Accept"), ("host", "Host")):
        if flag in flags:
            headers[header] = flags[flag]
    body = flags.get("d", "")
    if body:
        headers.setdefault("Content-Type", flags.get("T", "text/html"))
    return LoadSpec.from_metadata(
        {
            "url": url,
            "rate": str(rate),
            "duration": f"{duration}s",
            "concurrency": str(concurrency),
            "method": flags.get("m", "GET"),
            "headers": "\n".join(f"{name}: {value}" for name, value in headers.items()),
            "body": body,
            "timeout": f"{timeout}s",
        }
    )
