"""registry_api.edge.http: Range / Content-Range parsing, Link headers, bounded files, body reading."""
from __future__ import annotations

import io

import pytest
from django.test import RequestFactory

from registry_api.edge.http import (
    BodyError,
    BodyTooLarge,
    BoundedFile,
    ByteRange,
    UnsatisfiableRange,
    declared_length,
    if_none_match,
    iter_body,
    next_link,
    parse_content_range,
    parse_range,
    read_small_body,
)

SIZE = 1000


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-999", 0, 999),
        ("bytes=0-", 0, 999),
        ("bytes=10-20", 10, 20),
        ("bytes=500-5000", 500, 999),
        ("bytes=999-", 999, 999),
        ("bytes=-1", 999, 999),
        ("bytes=-100", 900, 999),
        ("bytes=-1000", 0, 999),
        ("bytes=-5000", 0, 999),
        (" bytes=1-2 ", 1, 2),
    ],
)
def test_parse_range_satisfiable(header, start, end):
    byte_range = parse_range(header, SIZE)
    assert byte_range == ByteRange(start, end)
    assert byte_range.length == end - start + 1


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=5000-", "bytes=-0"])
def test_parse_range_unsatisfiable(header):
    with pytest.raises(UnsatisfiableRange):
        parse_range(header, SIZE)


def test_a_first_byte_range_of_an_empty_blob_is_unsatisfiable():
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=0-", 0)


def test_a_suffix_range_of_an_empty_blob_is_ignored():
    # RFC 9110 §14.1.1 calls it satisfiable, yet there is no byte to put in a 206.
    assert parse_range("bytes=-5", 0) is None


@pytest.mark.parametrize(
    "header", ["", "bytes=", "bytes=-", "bytes=a-b", "items=0-1", "bytes=0-1,3-4", "bytes=5-1", "bytes 0-1", "0-1"]
)
def test_parse_range_ignores_what_it_cannot_parse(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0-0", (0, 0)),
        ("0-1023", (0, 1023)),
        ("1024-2047", (1024, 2047)),
        ("bytes=0-9", (0, 9)),
        ("bytes 5-9", (5, 9)),
        (" 3-4 ", (3, 4)),
    ],
)
def test_parse_content_range(value, expected):
    assert parse_content_range(value) == expected


@pytest.mark.parametrize("value", ["", "0-", "-9", "9-0", "a-b", "bytes 0-9/10", "0-9/*", "1 - 2", "0x1-0x2"])
def test_parse_content_range_rejects_malformed(value):
    assert parse_content_range(value) is None


@pytest.mark.parametrize(
    "path, n, last, extra, expected",
    [
        ("/v2/a/tags/list", 2, "b", {}, '</v2/a/tags/list?n=2&last=b>; rel="next"'),
        ("/v2/_catalog", 10, "team/app", {}, '</v2/_catalog?n=10&last=team%2Fapp>; rel="next"'),
        ("/v2/a/referrers/x", 1, "v 1", {"artifactType": "t/x"},
         '</v2/a/referrers/x?artifactType=t%2Fx&n=1&last=v+1>; rel="next"'),
    ],
)
def test_next_link(path, n, last, extra, expected):
    assert next_link(path, n, last, **extra) == expected


class _File(io.BytesIO):
    def fileno(self) -> int:
        return 42


@pytest.mark.parametrize(
    "offset, length, reads, expected",
    [
        (0, 10, [-1], [b"0123456789"]),
        (2, 3, [-1, -1], [b"234", b""]),
        (0, 5, [2, 2, 2, 2], [b"01", b"23", b"4", b""]),
        (5, 100, [-1], [b"56789abcdef"]),  # the file ends before the bound
        (0, 0, [10], [b""]),
    ],
)
def test_bounded_file_stops_at_its_length(offset, length, reads, expected):
    raw = _File(b"0123456789abcdef")
    raw.seek(offset)
    bounded = BoundedFile(raw, length)
    assert [bounded.read(n) for n in reads] == expected


def test_bounded_file_keeps_fileno_and_closes_the_file():
    raw = _File(b"data")
    bounded = BoundedFile(raw, 2)
    assert bounded.fileno() == 42
    bounded.close()
    assert raw.closed


def _request(body: bytes | None = None, **meta):
    factory = RequestFactory()
    if body is None:
        return factory.generic("PATCH", "/", **meta)
    return factory.generic("PATCH", "/", body, content_type="application/octet-stream", **meta)


def test_iter_body_reads_in_chunks_of_the_given_size():
    data = bytes(range(256)) * 10
    chunks = list(iter_body(_request(data), chunk_size=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 560]
    assert b"".join(chunks) == data


def test_iter_body_of_an_empty_request_yields_nothing():
    assert list(iter_body(_request())) == []


def test_iter_body_reads_a_chunked_body_without_content_length():
    data = b"x" * 2500
    request = _request(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(data)})
    assert declared_length(request) is None
    assert b"".join(iter_body(request, chunk_size=1000)) == data


def test_iter_body_raises_when_the_body_is_short():
    request = _request(CONTENT_LENGTH="100", **{"wsgi.input": io.BytesIO(b"x" * 40)})
    with pytest.raises(BodyError):
        b"".join(iter_body(request))


@pytest.mark.parametrize("value, expected", [("10", 10), ("0", 0), ("", None), ("abc", None), ("-1", None), ("\u00b2", None)])
def test_declared_length(value, expected):
    request = _request()
    request.META["CONTENT_LENGTH"] = value
    assert declared_length(request) == expected


def test_read_small_body_returns_the_bytes():
    assert read_small_body(_request(b"{}"), 10) == b"{}"


def test_read_small_body_refuses_a_declared_length_over_the_limit():
    with pytest.raises(BodyTooLarge):
        read_small_body(_request(b"x" * 11), 10)


def test_read_small_body_refuses_a_chunked_body_over_the_limit():
    request = _request(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(b"x" * 11)})
    with pytest.raises(BodyTooLarge):
        read_small_body(request, 10)
    request = _request(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(b"x" * 10)})
    assert read_small_body(request, 10) == b"x" * 10


@pytest.mark.parametrize(
    "header, expected",
    [
        ('"sha256:a"', True),
        ("*", True),
        ('W/"sha256:a"', True),
        ('"sha256:b", "sha256:a"', True),
        ('"sha256:b",*', True),
        ('"sha256:b"', False),
        ("", False),
        ('"sha256:ab"', False),
        ("sha256:a", False),  # not quoted: not an entity tag
    ],
)
def test_if_none_match(header, expected):
    assert if_none_match(header, '"sha256:a"') is expected
