"""How long an evaluation has left, from the work left rather than the fraction done.

An evaluation's networks differ in work (a full-real network trains on the whole split, a
distilled one on IPC x classes images) and each ends with a test pass over the test split;
before the first epoch come the set-up and the sets (herding trains an observer first).
Dividing the elapsed time by the fraction of epochs done counts that set-up as if every
epoch cost as much: at the first epoch of a 2-minute evaluation it said 19:30, of a
13-minute one 31:59:49. Here only training is timed, in training batches, and each test
pass on its own; until a rate is known the ETA is None, which reads "estimating". A
network's first epoch is not timed when it has more: it holds the warm-up (a compiled
network's compilation, tens of seconds at the first network: timed, it made a 10-minute
evaluation read 17:49:06 at its first epoch).
No torch, no Qt: the window and the CLI format what the evaluation computes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from ..engine.events import fmt_eta

MIN_TIMED_S = 1.0  # training timed before the first estimate (a rate from one batch jumps)
# Until a test pass is timed, a test batch is taken for this share of a training batch
# (a forward pass, without DSA or the backward pass).
TEST_BATCH_SHARE = 1 / 3


class EvalEta:
    """The ETA of a list of networks trained one after the other.

    ``networks``: (epochs, images) of each network in the order they train. ``begin(i)``
    when network ``i`` starts training (its set is made), ``epoch(i, e)`` as epochs end,
    ``end(i)`` after its test pass; ``eta()`` is the estimate now, or None.
    """

    def __init__(
        self,
        networks: Sequence[tuple[int, int]],
        batch_size: int,
        test_images: int,
        clock=time.perf_counter,
    ) -> None:
        self._clock = clock
        self._batches = [e * math.ceil(max(1, n) / batch_size) for e, n in networks]
        self._epochs = [e for e, _ in networks]
        self._per_epoch = [math.ceil(max(1, n) / batch_size) for _, n in networks]
        self._test_batches = math.ceil(max(1, test_images) / batch_size)
        self._train_s = 0.0  # timed training of finished networks
        self._train_batches = 0
        self._test_s: list[float] = []
        self._current: int | None = None
        self._begun = 0.0
        self._last_epoch_at = 0.0
        self._done_batches = 0  # of the current network
        self._untimed = 0  # batches of the current network before its timing began
        self._finished: set[int] = set()

    def begin(self, i: int) -> None:
        self._current, self._begun, self._done_batches = i, self._clock(), 0
        self._last_epoch_at, self._untimed = self._begun, 0

    def epoch(self, i: int, epoch: int) -> None:
        if self._current != i:
            self.begin(i)
        self._last_epoch_at = self._clock()
        self._done_batches = epoch * self._per_epoch[i]
        if epoch == 1 and self._epochs[i] > 1:  # the warm-up epoch: time from its end
            self._begun, self._untimed = self._last_epoch_at, self._done_batches

    def end(self, i: int) -> None:
        now = self._clock()
        if self._current == i:
            self._train_s += self._last_epoch_at - self._begun
            self._train_batches += self._batches[i] - self._untimed
            self._test_s.append(now - self._last_epoch_at)
        self._finished.add(i)
        self._current = None

    def eta(self) -> float | None:
        timed_s, timed_batches = self._train_s, self._train_batches
        if self._current is not None:
            timed_s += self._last_epoch_at - self._begun
            timed_batches += self._done_batches - self._untimed
        if timed_batches == 0 or (timed_s < MIN_TIMED_S and not self._finished):
            return None
        per_batch = timed_s / timed_batches
        if self._test_s:
            per_test = sum(self._test_s) / len(self._test_s)
        else:
            per_test = self._test_batches * TEST_BATCH_SHARE * per_batch
        left_batches = sum(b for j, b in enumerate(self._batches) if j not in self._finished)
        if self._current is not None:
            left_batches -= self._done_batches
        tests_left = len(self._batches) - len(self._finished)
        return max(0.0, left_batches * per_batch + tests_left * per_test)

    def work(self, i: int) -> float:
        """Network ``i``'s work in training batches, its test pass included."""
        return self._batches[i] + self._test_batches * TEST_BATCH_SHARE


def work_left_eta(elapsed: float, done_work: float, total_work: float) -> float | None:
    """The distributed path's estimate: networks end in parallel, so the elapsed time per
    unit of finished work (training batches and test passes) is the rate."""
    if done_work <= 0:
        return None
    return elapsed * (total_work - done_work) / done_work


__all__ = ["EvalEta", "fmt_eta", "work_left_eta"]
