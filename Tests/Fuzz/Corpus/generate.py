#!/usr/bin/env python3
"""Writes the seed corpora next to this script (a handful of small files per target).

Frame and HTTP inputs start with two bytes that steer the fuzzer (see
Tests/Fuzz/README.md): a control byte (largest chunk, limits) and a seed for the
chunk sizes. Run it again after changing the input formats.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = bytes([0xA1, 0xB2, 0xC3, 0xD4])


def frame(opcode, payload=b"", fin=True, masked=False):
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n <= 125:
        header = bytes([first, mask_bit | n])
    elif n <= 0xFFFF:
        header = bytes([first, mask_bit | 126]) + struct.pack(">H", n)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack(">Q", n)
    if masked:
        payload = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        header += MASK
    return header + payload


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


def frame_seeds(masked):
    f = lambda *args, **kwargs: frame(*args, masked=masked, **kwargs)
    return {
        # control byte: bits 0-2 largest chunk, bits 6-7 limits; then the chunk seed
        "text": (0x05, 0x01, f(0x1, b"Hello, WebSocket")),
        "text-utf8": (0x00, 0x02, f(0x1, "h\u00e9llo \u20ac \U0001F600".encode())),
        "binary-126": (0x06, 0x03, f(0x2, bytes(range(256)) * 2)),
        "fragmented-with-ping": (0x02, 0x04,
            f(0x1, b"frag", fin=False) + f(0x9, b"ping") + f(0x0, b"men", fin=False) + f(0x0, b"ted")),
        "ping-pong-close": (0x04, 0x05, f(0x9) + f(0xA, b"pong") + f(0x8, close(1000, b"bye"))),
        "close-empty": (0x01, 0x06, f(0x8)),
        "too-big-64bit-length": (0x03, 0x07,
            bytes([0x82, (0x80 if masked else 0) | 127]) + struct.pack(">Q", 1 << 20) + (MASK if masked else b"")),
        # bit 5 of the control byte: the rest is a script for a valid stream (see ValidStream.swift)
        "valid-script-fragmented-text": (0x24, 0x09,
            bytes([0x5C, 20]) + "h\u00e9llo w\u00f6rld".encode() + bytes([0xC4, 0x12, 0x34, 0xC3, 0x00, 0x10, 40, 90, 200])
            + bytes([0x0A, 5]) + b"ping!" + bytes([0x07, 0x00, 5]) + b"bye"),
        "valid-script-mixed": (0x23, 0x0A, bytes((i * 37 + 11) % 256 for i in range(160))),
        "fragments-over-small-limit": (0xC6, 0x08,
            f(0x2, b"a" * 90, fin=False) + f(0x0, b"b" * 90)),
    }


def http_seeds():
    upgrade = (b"GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n")
    return {
        "upgrade": (0x04, 0x01, upgrade),
        "upgrade-then-frame": (0x01, 0x02, upgrade + frame(0x1, b"hi", masked=True)),
        "bare-lf-absolute-form": (0x03, 0x03,
            b"GET http://example.com/echo HTTP/1.1\nHost: example.com\nUpgrade: WebSocket\nConnection: keep-alive, Upgrade\n\n"),
        "two-requests": (0x05, 0x04, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n"),
        "leading-empty-line": (0x02, 0x05, b"\r\nGET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Obs: \xc3\xa9\xff\r\n\r\n"),
        "too-large": (0xC6, 0x06, b"GET /" + b"a" * 120 + b" HTTP/1.1\r\n\r\n"),
        "http2": (0x00, 0x07, b"PRI * HTTP/2.0\r\n\r\n"),
    }


def body_seeds():
    post = b"POST /api HTTP/1.1\r\nHost: a\r\n"
    return {
        "content-length-pipelined": (0x05, 0x01,
            post + b"Content-Length: 5\r\n\r\nhello" + b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"),
        "chunked-extensions-trailers": (0x03, 0x02,
            post + b"Transfer-Encoding: chunked\r\n\r\n5;x=\"y z\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"),
        # bit 5: the rest is a chunked body
        "chunked-body-only": (0x21, 0x03, b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
        "chunked-over-small-limit": (0xA2, 0x04, b"40\r\n" + b"x" * 64 + b"\r\n1\r\ny\r\n0\r\n\r\n"),
        "smuggling": (0x04, 0x05, post + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "head-and-upgrade": (0x06, 0x06, b"HEAD / HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
    }


def utf8_seeds():
    return {
        "ascii": b"plain ASCII text, longer than eight bytes",
        "mixed": "caf\u00e9 \u20ac \ud55c \U0001F600 \U0010FFFF".encode(),
        "boundaries": "\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000".encode(),
        "surrogate": b"ok \xed\xa0\x80",
        "overlong": b"\xc0\xaf \xe0\x80\xaf",
        "truncated": b"abc\xf0\x9f\x98",
        "above-max": b"\xf4\x90\x80\x80",
    }


def raw_deflate(data, wbits=15):
    import zlib
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_seeds():
    # control byte (bits 0-2 largest chunk, bits 6-7 limit), chunk seed, window byte, payload
    return {
        "rfc-hello": (0x03, 0x01, bytes([0x07]) + bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])),
        "rfc-final-block": (0x01, 0x02, bytes([0x07]) + bytes([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00])),
        "stored": (0x02, 0x03, bytes([0x07]) + bytes([0x00, 0x05, 0x00, 0xFA, 0xFF]) + b"Hello" + bytes([0x00])),
        "text-window-9": (0x05, 0x04, bytes([0x01]) + raw_deflate(b"permessage-deflate, " * 20, 9)),
        "bomb-small-limit": (0x86, 0x05, bytes([0x07]) + raw_deflate(bytes(20000))),
        "corrupt": (0x00, 0x06, bytes([0x07, 0xFF, 0x00])),
    }


def extension_seeds():
    # configuration byte, then the header value
    return {
        "chrome": b"\x20permessage-deflate; client_max_window_bits",
        "firefox": b"\x20permessage-deflate",
        "rfc-two-offers": b"\x00permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
        "quoted-and-others": b"\x6bfoo; a=\"b\", permessage-deflate; server_no_context_takeover; client_max_window_bits=\"9\"",
        "invalid": b"\x20permessage-deflate; server_max_window_bits=016; x,, ;",
    }


def json_seeds():
    return {
        "object": b'{"a":[1,-2.5e3,true,false,null,"x\\n\\u00e9\\ud83d\\ude00"],"b":{}}',
        "numbers": b"[0,-0,9223372036854775807,-9223372036854775808,9223372036854775808,1e308,5e-324,0.1]",
        "nested": b"[[[[{\"k\":[[]]}]]]]",
        "trailing-comma": b"[1,2,]",
        "lone-surrogate": b'"\\ud800"',
    }


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token_seeds():
    # Byte 0 picks how the rest becomes a token (see Tests/Fuzz/README.md).
    header = b'{"alg":"HS256","typ":"JWT"}'
    claims = b'{"sub":"a","exp":1700000600,"nbf":1699999990,"iat":1700000000,"topics":["news.*","chat"],"publish":["*"]}'
    rfc7515 = (b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
               b".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
               b".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    return {
        "raw-rfc7515": b"\x00" + rfc7515,
        "raw-alg-none": b"\x00" + b64url(b'{"alg":"none"}') + b"." + b64url(claims) + b".",
        "signed-segments": b"\x01" + b64url(header) + b"." + b64url(claims),
        "signed-json": b"\x02" + header + b"\x00" + claims,
        "signed-json-expired": b"\x02" + header + b"\x00" + b'{"exp":1}',
    }


def resp_seeds():
    # Control byte, chunk seed, then replies as Redis sends them.
    replies = {
        "status": b"+OK\r\n",
        "error": b"-ERR unknown command 'X'\r\n",
        "integer": b":1000\r\n:-1\r\n",
        "bulk": b"$5\r\nhello\r\n$0\r\n\r\n$-1\r\n",
        "message": b"*3\r\n$7\r\nmessage\r\n$13\r\npushwave:news\r\n$21\r\n7 00ab12cd34ef5678 thi\r\n",
        "subscribe": b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
        "nested": b"*2\r\n*2\r\n:1\r\n$1\r\na\r\n*-1\r\n",
        "bad-type": b"?\r\n",
        "huge-array": b"*2147483647\r\n",
    }
    return {name: (control, 0x5A, body) for control, (name, body) in zip([0, 1, 2, 3, 4, 5, 6, 7, 1], replies.items())}


def prometheus_seeds():
    # Texts as the workers write them (swift-prometheus), separated by zero bytes.
    worker = (b"# TYPE pushwave_connections_open gauge\npushwave_connections_open 10.0\n"
              b"# TYPE pushwave_messages_received_total counter\npushwave_messages_received_total 7\n"
              b'# TYPE pushwave_handshake_failures_total counter\npushwave_handshake_failures_total{status="400"} 2\n')
    histogram = (b'# TYPE latency histogram\nlatency_bucket{le="0.1"} 1\nlatency_bucket{le="+Inf"} 3\n'
                 b"latency_sum 0.75\nlatency_count 3\n")
    return {
        "three-workers": worker + b"\0" + worker + b"\0" + worker,
        "histograms": histogram + b"\0" + histogram,
        "summary-and-specials": b'# TYPE s summary\ns{quantile="0.5"} 3\ns_sum 1e3\ns_count 4\nx +Inf\ny NaN\n\0x 1\ny 2 1700000000000\n',
        "escapes": b'# HELP a help\na{path="x\\"y\\\\z\\n",} 1\n\0a{path="x\\"y\\\\z\\n"} 2\nreserved 1\n',
        "conflicts": b"# TYPE a counter\na 1\n\0# TYPE a gauge\na 2\n\0a 9223372036854775807\n",
    }


def write(target, seeds):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, tuple):
            control, seed, body = data
            data = bytes([control, seed]) + body
        assert len(data) < 1024, (target, name, len(data))
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


write("FuzzFrameParserServer", frame_seeds(masked=True))
write("FuzzFrameParserClient", frame_seeds(masked=False))
write("FuzzHTTPRequest", http_seeds())
write("FuzzHTTPBody", body_seeds())
write("FuzzUTF8", utf8_seeds())
write("FuzzInflate", {name: bytes([c, sd]) + body for name, (c, sd, body) in inflate_seeds().items()})
write("FuzzExtensions", extension_seeds())
write("FuzzJSON", json_seeds())
write("FuzzToken", token_seeds())
write("FuzzRESP", resp_seeds())
write("FuzzPrometheusMerge", prometheus_seeds())
