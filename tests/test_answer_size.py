"""No answer from Google is read beyond the 64 KiB cap: not a redirect's body
(which requests would read whole to find where it points, even with
``allow_redirects=False``), not a gzip bomb."""

import io
import tracemalloc
import zlib

import pytest

from google_connect.exceptions import RevokeFailed, TokenExchangeFailed
from google_connect.google.http import MAX_RESPONSE_BYTES
from google_connect.google.oauth import GoogleOAuthClient

EXCHANGE = {"code": "4/CODE", "redirect_uri": "https://example.com/cb", "code_verifier": "v" * 43}
HUGE = 20 * 1024 * 1024
BOMB = 600 * 1024 * 1024  # decompressed; about 600 KB on the wire
# Far below what reading a whole 20 MB body or inflating the bomb would take.
MEMORY_CEILING = 4 * 1024 * 1024


class Endless(io.RawIOBase):
    """A body of ``size`` bytes, made as it is read; ``served`` counts what was."""

    def __init__(self, size, chunk=b"x" * 65536, gzip=False):
        self.left = size
        self.chunk = chunk
        self.served = 0
        self.pending = b""
        self.compressor = zlib.compressobj(wbits=31) if gzip else None

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self.pending and self.left:
            piece = self.chunk[: self.left]
            self.left -= len(piece)
            if self.compressor is None:
                self.pending = piece
            else:
                self.pending = self.compressor.compress(piece)
                if not self.left:
                    self.pending += self.compressor.flush()
        data, self.pending = self.pending[: len(buffer)], self.pending[len(buffer) :]
        buffer[: len(data)] = data
        self.served += len(data)
        return len(data)


def answer(google, url, status, body, gzip=False):
    headers = {"Location": "https://elsewhere.example/"} if 300 <= status < 400 else {}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    google.mock.post(url, status=status, body=io.BufferedReader(body), headers=headers)


def peak_memory_of(call):
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_with_a_huge_body_is_refused_unread(google, status):
    body = Endless(HUGE)
    answer(google, google.config.TOKEN_URL, status, body)

    with pytest.raises(TokenExchangeFailed, match=f"HTTP {status}, a redirect") as caught:
        GoogleOAuthClient().exchange_code(**EXCHANGE)

    assert caught.value.status_code == status
    assert body.served <= MAX_RESPONSE_BYTES


def test_a_redirected_revocation_is_refused_unread(google):
    body = Endless(HUGE)
    answer(google, google.config.REVOKE_URL, 302, body)

    with pytest.raises(RevokeFailed, match="HTTP 302, a redirect"):
        GoogleOAuthClient().revoke("ya29.TOKEN")

    assert body.served <= MAX_RESPONSE_BYTES


@pytest.mark.parametrize(
    ("status", "refusal"),
    [(200, "too large"), (302, "HTTP 302, a redirect"), (400, "HTTP 400"), (500, None)],
)
def test_a_gzip_bomb_is_read_only_up_to_the_cap(google, status, refusal):
    # An error answer is classified by its status, whatever its size (how a
    # too-large 5xx is retried is the retry logic's business).
    body = Endless(BOMB, chunk=b"\0" * (1024 * 1024), gzip=True)
    answer(google, google.config.TOKEN_URL, status, body, gzip=True)

    def exchange():
        with pytest.raises(TokenExchangeFailed, match=refusal):
            GoogleOAuthClient().exchange_code(**EXCHANGE)

    assert peak_memory_of(exchange) < MEMORY_CEILING
    assert body.served <= MAX_RESPONSE_BYTES


def test_a_huge_successful_revocation_body_is_read_only_up_to_the_cap(google):
    body = Endless(HUGE)
    answer(google, google.config.REVOKE_URL, 200, body)

    assert GoogleOAuthClient().revoke("ya29.TOKEN") is True
    assert body.served <= MAX_RESPONSE_BYTES + 64 * 1024
