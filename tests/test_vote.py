"""The vote is a pure function: synthetic probabilities with known answers."""

import numpy as np
import pytest

from rayrot.vote import is_decided, vote


def _onehot_like(k, n, p=0.9):
    probs = np.full((n, 4), (1 - p) / 3)
    probs[:, k] = p
    return probs


@pytest.mark.parametrize("k", range(4))
def test_unanimous_tiles_give_their_angle(cfg, k):
    v = vote(_onehot_like(k, 6), np.ones(6), np.zeros(6, bool), cfg.vote)
    assert v.angle == 90 * k
    assert v.confidence > 0.85
    assert v.n_used == 6 and v.n_abstained == 0


def test_split_evidence_is_undetermined(cfg):
    probs = np.vstack([_onehot_like(0, 5), _onehot_like(2, 5)])
    v = vote(probs, np.ones(10), np.zeros(10, bool), cfg.vote)
    assert v.angle is None and v.undetermined
    # Each answer holds about half the mass: no margin between them.
    assert v.probabilities[0] == pytest.approx(v.probabilities[2])


def test_uncertain_tiles_abstain(cfg):
    probs = np.vstack([np.full((20, 4), 0.25), _onehot_like(1, 1)])
    v = vote(probs, np.ones(21), np.zeros(21, bool), cfg.vote)
    assert v.n_abstained == 20 and v.n_used == 1 and v.angle == 90


def test_center_tiles_outweigh_corner_tiles(cfg):
    probs = np.vstack([_onehot_like(3, 2), _onehot_like(0, 3)])
    weights = np.array([1.0, 1.0, 0.05, 0.05, 0.05])
    assert vote(probs, weights, np.zeros(5, bool), cfg.vote).angle == 270


def test_global_view_weight(cfg):
    probs = np.vstack([_onehot_like(2, 1), _onehot_like(0, 2)])
    is_global = np.array([True, False, False])
    heavy = cfg.replace(vote={"global_weight": 4.0}).vote
    assert vote(probs, np.full(3, 0.5), is_global, heavy).angle == 180
    no_global = cfg.replace(vote={"global_weight": 0.0}).vote
    assert vote(probs, np.full(3, 0.5), is_global, no_global).angle == 0


def test_no_tiles_is_undetermined(cfg):
    v = vote(np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool), cfg.vote)
    assert v.angle is None and v.n_used == 0


def test_early_stop_only_when_the_rest_cannot_matter(cfg):
    mass = np.array([4.0, 0.2, 0.1, 0.1])
    assert is_decided(mass, remaining_weight=1.0, cfg=cfg.vote)
    assert not is_decided(mass, remaining_weight=3.8, cfg=cfg.vote)
    # Whatever the unscored tiles add, to any class, the decision must stay the same.
    thr = cfg.vote.undetermined_threshold

    def outcome(m):
        w = int(np.argmax(m))
        margin = (m[w] - np.sort(m)[-2]) / m.sum()
        return w, bool(m[w] / m.sum() >= thr and margin >= cfg.vote.min_margin)

    rng = np.random.default_rng(0)
    n_decided = 0
    for _ in range(500):
        m = rng.random(4) * rng.integers(1, 10)
        r = float(rng.random() * 3)
        if not is_decided(m, r, cfg.vote):
            continue
        n_decided += 1
        seen = {outcome(m + r * t * np.eye(4)[c]) for c in range(4) for t in (0.0, 0.5, 1.0)}
        assert len(seen) == 1, (m, r, seen)
    assert n_decided > 20


def test_early_stop_with_a_share_line_settles_which_side_the_confidence_ends(cfg):
    """A finer look is taken below a confidence line: early stop must not end a look while
    the unscored tiles could still move the winner's share across it."""
    line = cfg.tiling.refine_below_confidence
    rng = np.random.default_rng(1)
    n_decided = n_would_have_stopped = 0
    for _ in range(2000):
        m = rng.random(4) * rng.integers(1, 10)
        m[rng.integers(4)] += rng.random() * 20
        r = float(rng.random() * 3)
        plain = is_decided(m, r, cfg.vote)
        if not is_decided(m, r, cfg.vote, line):
            n_would_have_stopped += plain
            continue
        assert plain  # the line only ever delays a stop
        n_decided += 1
        ends = set()
        for c in range(4):
            for t in (0.0, 0.5, 1.0):
                v = m + r * t * np.eye(4)[c]
                w = int(np.argmax(v))
                determined = (v[w] / v.sum() >= cfg.vote.undetermined_threshold
                              and (v[w] - np.sort(v)[-2]) / v.sum() >= cfg.vote.min_margin)
                ends.add(determined and v[w] / v.sum() >= line)
        assert len(ends) == 1, (m, r)
    assert n_decided > 50 and n_would_have_stopped > 20
