"""Which data provider the plugin reads through (tb_plugin.provider)."""

from __future__ import annotations

import types

import grpc
from tensorboard.backend.event_processing import data_provider as multiplexer_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer as multiplexer_lib
from tensorboard.data import grpc_provider
from tensorboard.util import grpc_util

from tb_plugin.provider import CHANNEL_OPTIONS, low_latency_provider


def _grpc(address):
    channel = grpc.insecure_channel(address)
    return grpc_provider.GrpcDataProvider(address, grpc_provider.make_stub(channel))


def test_a_local_data_server_gets_its_own_low_latency_channel():
    theirs = _grpc("localhost:6543")
    flags = types.SimpleNamespace(grpc_creds_type=grpc_util.ChannelCredsType.LOCAL)
    ours = low_latency_provider(theirs, flags)
    assert isinstance(ours, grpc_provider.GrpcDataProvider) and ours is not theirs
    assert ours._addr == "localhost:6543"
    assert ("grpc.keepalive_time_ms", 1) in CHANNEL_OPTIONS
    assert low_latency_provider(theirs, None) is not theirs  # tests pass no flags


def test_other_providers_are_kept():
    mux = multiplexer_lib.EventMultiplexer()
    python_loader = multiplexer_provider.MultiplexerDataProvider(mux, "/tmp")
    assert low_latency_provider(python_loader) is python_loader
    remote = _grpc("data.example.com:443")
    assert low_latency_provider(remote) is remote
    local = _grpc("localhost:6543")
    ssl = types.SimpleNamespace(grpc_creds_type=grpc_util.ChannelCredsType.SSL)
    assert low_latency_provider(local, ssl) is local


def test_a_channel_that_cannot_be_opened_keeps_tensorboards(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise ValueError("no channel here")

    monkeypatch.setattr(grpc, "secure_channel", refuse)
    theirs = _grpc("localhost:6543")
    assert low_latency_provider(theirs) is theirs
    assert "keeping TensorBoard's data channel (no channel here)" in caplog.text
