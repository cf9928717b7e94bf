"""The hand-written event file: TensorBoard's loader reads it; a failed write leaves no trace."""

from __future__ import annotations

import errno
import os
import shutil
import struct

import google_crc32c
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from keras_inspect import eventfile
from keras_inspect.eventfile import EventFile, masked_crc


def test_events_round_trip_through_tensorboards_loader(tmp_path):
    events = EventFile(str(tmp_path))
    for step in range(3):
        events.add_event(event_pb2.Event(step=step, wall_time=1.0 + step))
    events.flush()
    read = list(EventFileLoader(events.path).Load())
    assert read[0].file_version == "brain.Event:2"
    assert [e.step for e in read[1:]] == [0, 1, 2]
    events.close()
    events.close()


def test_checksum_matches_tensorboards_reference():
    for data in (b"", b"abc", bytes(range(256)) * 5):
        assert int.from_bytes(masked_crc(data), "little") == masked_crc32c(data)
    assert google_crc32c.implementation == "c"


def whole_records(path):
    """The step of every record of an event file, checking that none is cut short or corrupt
    (also used by ``test_disk_failures``)."""
    with open(path, "rb") as file:
        data = file.read()
    steps, at = [], 0
    while at < len(data):
        assert len(data) - at >= 12, f"{path}: a truncated header at byte {at}"
        header = data[at : at + 8]
        assert data[at + 8 : at + 12] == masked_crc(header)
        (length,) = struct.unpack("<Q", header)
        body = data[at + 12 : at + 12 + length]
        assert len(body) == length, f"{path}: a truncated record at byte {at}"
        assert data[at + 12 + length : at + 16 + length] == masked_crc(body)
        steps.append(event_pb2.Event.FromString(body).step)
        at += 16 + length
    return steps


class _FullDisk:
    """Stands in for ``_write_all``: while ``full``, half of a write lands, then ENOSPC."""

    def __init__(self):
        self.full = False
        self.real = eventfile._write_all

    def __call__(self, fd, data):
        if not self.full:
            return self.real(fd, data)
        self.real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_flush_is_cut_back_and_the_file_goes_on_after_the_last_good_one(
    tmp_path, monkeypatch
):
    disk = _FullDisk()
    monkeypatch.setattr(eventfile, "_write_all", disk)
    events = EventFile(str(tmp_path))
    events.add_event(event_pb2.Event(step=0, wall_time=1.0))
    events.flush()
    good = events.committed
    assert good == os.path.getsize(events.path)
    disk.full = True
    for step in (1, 2):
        events.add_event(event_pb2.Event(step=step, wall_time=1.0))
    with pytest.raises(OSError, match="No space left"):
        events.flush()
    # The half-written records are gone, and with them the space they took.
    assert os.path.getsize(events.path) == events.committed == good
    assert whole_records(events.path) == [0, 0]  # file_version, then step 0
    disk.full = False
    events.add_event(event_pb2.Event(step=3, wall_time=1.0))
    events.close()
    assert whole_records(events.path) == [0, 0, 3]
    assert [e.step for e in EventFileLoader(events.path).Load()] == [0, 0, 3]


def test_a_file_whose_first_record_cannot_be_written_is_not_left_behind(tmp_path, monkeypatch):
    disk = _FullDisk()
    disk.full = True
    monkeypatch.setattr(eventfile, "_write_all", disk)
    with pytest.raises(OSError, match="No space left"):
        EventFile(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_close_closes_even_when_its_flush_fails(tmp_path, monkeypatch):
    disk = _FullDisk()
    monkeypatch.setattr(eventfile, "_write_all", disk)
    events = EventFile(str(tmp_path))
    events.add_event(event_pb2.Event(step=1, wall_time=1.0))
    disk.full = True
    with pytest.raises(OSError):
        events.close()
    events.close()  # closed: nothing more to do
    assert whole_records(events.path) == [0]
    with pytest.raises(ValueError, match="is closed"):
        events.flush()


def test_a_deleted_or_replaced_file_is_noticed(tmp_path):
    events = EventFile(str(tmp_path / "a"))
    assert not events.lost()
    os.replace(events.path, events.path + ".old")
    open(events.path, "wb").close()  # same name, another file
    assert events.lost()
    events.abandon()
    events.abandon()

    events = EventFile(str(tmp_path / "b"))
    shutil.rmtree(tmp_path / "b")
    assert events.lost()
    events.abandon()


def test_files_opened_later_sort_later(tmp_path):
    # TensorBoard's Python loader reads a run's files in name order and never goes back.
    paths = []
    for _ in range(12):
        events = EventFile(str(tmp_path))
        paths.append(events.path)
        events.close()
    assert sorted(paths) == paths


def test_remote_failures_come_out_as_os_errors(monkeypatch):
    class Broken:
        def __init__(self, directory, max_queue_size):
            raise RuntimeError("bucket not found")

    monkeypatch.setattr(eventfile, "EventFileWriter", Broken)
    with pytest.raises(OSError, match=r"RuntimeError: bucket not found \(writing to gs://b/r"):
        eventfile.RemoteEventFile("gs://b/run/inspect")
