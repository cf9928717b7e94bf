"""The data provider the plugin reads through: TensorBoard's own, on a low-latency channel.

With ``--load_fast=true`` TensorBoard reads data from its Rust data server over gRPC on
localhost. That server does not disable Nagle's algorithm, so a small answer (a few KiB: one
checkpoint of a vector, a short scalar series) waits for the client's delayed TCP
acknowledgement before its last segment is sent: measured on TensorBoard 2.21, every small read
took 40-44 ms while a 26 MB read took 60 ms. A client that sends HTTP/2 keepalive pings while
a call is in flight acknowledges at once, and the same small reads take 2-4 ms.

:func:`low_latency_provider` therefore opens a second channel to the same local data server,
with pings every millisecond during calls (none while idle: gRPC only pings with calls in
flight unless told otherwise), and wraps it in TensorBoard's own ``GrpcDataProvider``. Any
other provider (the Python loader of ``--load_fast=false``, a remote ``--grpc_data_provider``
with credentials) is returned unchanged, and so is TensorBoard's when anything here fails.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["CHANNEL_OPTIONS", "low_latency_provider"]

logger = logging.getLogger(__name__)

CHANNEL_OPTIONS = (
    # As TensorBoard's own channel: one read of many series can be large.
    ("grpc.max_receive_message_length", 256 * 2**20),
    # The acknowledgement trick described above.
    ("grpc.keepalive_time_ms", 1),
    ("grpc.http2.max_pings_without_data", 0),
)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def low_latency_provider(provider: Any, flags: Any = None) -> Any:
    """``provider``, or an equivalent reading the same local data server with fewer stalls.

    Args:
        provider: ``TBContext.data_provider``.
        flags: ``TBContext.flags`` (``None`` in tests): a ``--grpc_creds_type`` other than
            ``local`` keeps TensorBoard's channel, whose credentials this module cannot repeat.

    Returns:
        A ``GrpcDataProvider`` on a new channel when ``provider`` reads a data server on this
        machine over local credentials; ``provider`` itself otherwise.
    """
    try:
        from tensorboard.data import grpc_provider
    except ImportError:  # pragma: no cover - part of every TensorBoard with a data server
        return provider
    if not isinstance(provider, grpc_provider.GrpcDataProvider):
        return provider
    import os

    if os.environ.get("KI_AB_TB_CHANNEL"):
        return provider
    address = getattr(provider, "_addr", None)
    creds = getattr(flags, "grpc_creds_type", None)
    creds = getattr(creds, "value", creds) or "local"  # a ChannelCredsType, or absent
    if not isinstance(address, str) or creds != "local":
        return provider
    if address.rpartition(":")[0] not in _LOCAL_HOSTS:
        return provider
    try:
        import grpc

        channel = grpc.secure_channel(
            address, grpc.local_channel_credentials(), options=list(CHANNEL_OPTIONS)
        )
        return grpc_provider.GrpcDataProvider(address, grpc_provider.make_stub(channel))
    except Exception as error:  # never worth losing the tab over: keep TensorBoard's channel
        logger.warning("keras_inspect: keeping TensorBoard's data channel (%s)", error)
        return provider
