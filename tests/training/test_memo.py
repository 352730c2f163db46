"""training.memo.OnceMemo computes a key once across threads, forgets failures and stays
bounded; the train stage's threaded folds give the same results on 1 thread and on 3."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest

from config.root import load_params
from training import blend, pipeline
from training.memo import OnceMemo
from training.train import run

from .conftest import write_params


def test_a_key_asked_by_many_threads_is_computed_once() -> None:
    memo: OnceMemo[str, int] = OnceMemo(4)
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(memo.get("k", slow))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 6 and len(calls) == 1


def test_a_failed_computation_is_not_remembered() -> None:
    memo: OnceMemo[str, int] = OnceMemo(4)

    def boom() -> int:
        raise RuntimeError("fit failed")

    with pytest.raises(RuntimeError, match="fit failed"):
        memo.get("k", boom)
    assert memo.get("k", lambda: 7) == 7


def test_a_waiting_thread_computes_itself_when_the_first_one_fails() -> None:
    memo: OnceMemo[str, int] = OnceMemo(4)
    started = threading.Event()

    def fail_slowly() -> int:
        started.set()
        time.sleep(0.2)
        raise RuntimeError("first")

    errors: list[str] = []

    def first() -> None:
        try:
            memo.get("k", fail_slowly)
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    assert memo.get("k", lambda: 5) == 5  # waited, saw the failure, computed
    t.join()
    assert errors == ["first"]


def test_least_recently_used_values_are_dropped() -> None:
    memo: OnceMemo[int, int] = OnceMemo(2)
    memo.get(1, lambda: 1)
    memo.get(2, lambda: 2)
    memo.get(1, lambda: -1)  # 1 is now the most recent
    memo.get(3, lambda: 3)  # drops 2
    assert memo.get(1, lambda: -1) == 1
    assert memo.get(2, lambda: -2) == -2


def _fresh_memos() -> None:
    for memo in (blend._CACHE, blend._DIGESTS, pipeline._BASELINES):
        memo.clear()


@pytest.mark.slow
def test_training_results_do_not_depend_on_the_thread_count(
    snapshots: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_params(write_params(tmp_path / "params.yaml", "sqlite:///unused.db"))
    out = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("CHURN_TRAIN_THREADS", threads)
        _fresh_memos()  # nothing reused from the other run
        d = tmp_path / threads
        result = run(cfg, snapshots, d / "m", d / "b.json", None, "t", scores_path=d / "s.parquet")
        out[threads] = (
            result,
            lgb.Booster(model_file=str(d / "m" / "booster.txt")).model_to_string(),
            (d / "b.json").read_text(),
            pd.read_parquet(d / "s.parquet"),
        )
    one, three = out["1"], out["3"]
    assert one[0] == three[0]
    assert one[1] == three[1] and one[2] == three[2]
    pd.testing.assert_frame_equal(one[3], three[3])
    assert one[0]["served"]["selection"], "the grid selection ran (the memos were shared)"
