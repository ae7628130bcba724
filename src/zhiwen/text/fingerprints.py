"""Fingerprints of a chunk's text for duplicate detection: a content hash, and a MinHash signature over
character 5-grams cut into LSH buckets.

Character shingles work for Chinese (no spaces) and English alike. Signatures and their buckets are stored
with each chunk, and a near-duplicate is looked up by its buckets in the database (an index lookup), so an
upload costs the same in a knowledge base of 300 chunks or of 100,000. Before, the whole workspace's
signatures were read into a MinHash LSH index at each upload: 3 s for a small file beside 13,000 chunks.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from datasketch import MinHash

NUM_PERM = 64
SCHEME = "affine32"  # stored signatures depend on it
# The band layout datasketch's MinHashLSH chooses for a Jaccard threshold of 0.85 with 64 permutations
# (what was used before the buckets were stored): two texts are candidates when all 15 values of one of
# the 4 bands agree.
BANDS, ROWS = 4, 15
_MIN_CHARS = 40  # shorter texts have too few shingles for a meaningful Jaccard estimate
_SQUASH = re.compile(r"\W+")


def squash(text: str) -> str:
    return _SQUASH.sub("", text.lower())


def content_hash(text: str) -> str:
    return hashlib.sha1(squash(text).encode("utf-8"), usedforsecurity=False).hexdigest()


def signature(text: str) -> bytes | None:
    squashed = squash(text)
    if len(squashed) < _MIN_CHARS:
        return None
    shingles = {squashed[i : i + 5].encode("utf-8") for i in range(len(squashed) - 4)}
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(list(shingles))
    return bytes(minhash.hashvalues.astype(np.uint64).tobytes())


def buckets(signature: bytes) -> list[bytes]:
    """The LSH buckets of a signature: its band number and a digest of the band's values."""
    values = np.frombuffer(signature, dtype=np.uint64)
    return [
        bytes([band])
        + hashlib.blake2b(values[band * ROWS : (band + 1) * ROWS].tobytes(), digest_size=8).digest()
        for band in range(BANDS)
    ]
