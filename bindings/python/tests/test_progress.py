"""Progress: the callback's arguments and rules, the history, tqdm and plain lines."""

import sys

import numpy as np
import pytest

import autoenc


def test_callback_sees_epoch_ends_only_by_default(model, unit_data):
    seen = []
    model.fit(unit_data, callback=seen.append)
    assert [p.epoch for p in seen] == [1, 2, 3]
    p = seen[-1]
    assert isinstance(p, autoenc.Progress)
    assert p.epoch_end and p.epochs == 3 and p.batch == p.batches == 10 and p.stage == 0
    assert p.seconds >= seen[0].seconds and np.isnan(p.val_loss)


def test_callback_sees_every_batch_with_the_setting(model, unit_data):
    model.progress_every_batch = True
    seen = []
    report = model.fit(unit_data, unit_data[:30], callback=seen.append)
    assert len(seen) == 3 * 10
    assert [p.batch for p in seen[:10]] == list(range(1, 11))
    assert [p.epoch_end for p in seen[:10]] == [False] * 9 + [True]
    assert not np.isnan(seen[9].val_loss)
    assert report.val_loss_history == [p.val_loss for p in seen if p.epoch_end]
    assert model.progress_every_batch is True  # the user's setting is kept


def test_callback_may_read_the_model(model, unit_data):
    snapshots = []

    def read(progress):
        snapshots.append((model.encode(unit_data[:2]), model.get_flat_params(), model.to_bytes(),
                          model.epochs, model.score(unit_data[:2])))

    model.fit(unit_data, callback=read)
    assert len(snapshots) == 3
    assert not np.array_equal(snapshots[0][1], snapshots[2][1])


def test_a_clone_made_inside_the_callback_outlives_the_fit(model, unit_data):
    clones = []
    model.fit(unit_data, callback=lambda p: clones.append(model.clone()) if p.epoch == 1 else None)
    twin = clones[0]
    # the clone was made while the package's callback was installed; it must not keep it
    twin.fit(unit_data)
    twin.pretrain(unit_data)
    twin.close()


def test_history_is_recorded_without_a_callback(model, unit_data):
    report = model.fit(unit_data)
    assert len(report.train_loss_history) == 3 == len(report.epoch_seconds)


def test_verbose_shows_a_tqdm_bar(model, unit_data, capsys):
    pytest.importorskip("tqdm")
    model.fit(unit_data, verbose=True)
    err = capsys.readouterr().err
    assert "fit" in err and "30/30" in err and "epoch=3/3" in err


def test_verbose_without_tqdm_prints_a_line_per_epoch(model, unit_data, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model.fit(unit_data, unit_data[:20], verbose=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("fit: epoch 1/3  loss ") and "  val " in lines[0] and lines[0].endswith(" s)")


def test_verbose_pretraining_names_its_stages(unit_data, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with autoenc.Model([12, 8, 3], epochs=2) as m:
        m.pretrain(unit_data, verbose=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [l.split(":")[0] for l in lines] == ["pretrain stage 0"] * 2 + ["pretrain stage 1"] * 2


def test_user_callback_not_called_per_batch_when_the_guard_forces_batches(model, unit_data):
    # the SIGINT guard (main thread) makes the library call back after every batch;
    # the user's callback still sees epoch ends only
    calls = []
    model.fit(unit_data, callback=calls.append, verbose=True)
    assert len(calls) == 3
