"""The hand-written event file reads back through TensorBoard's own loader."""

from __future__ import annotations

import google_crc32c
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from keras_inspect.eventfile import EventFile, _masked_crc


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
        assert int.from_bytes(_masked_crc(data), "little") == masked_crc32c(data)
    assert google_crc32c.implementation == "c"
