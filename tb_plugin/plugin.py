"""The keras_inspect TensorBoard plugin: routes and static files.

Each data route is a thin ``*_route`` that parses and checks the query string (bad parameters
are a 400 through ``InvalidArgumentError``, missing data a 404 through ``NotFoundError``) and
calls the pure ``*_impl`` of :mod:`tb_plugin.data` (:mod:`tb_plugin.diagnoses` for ``/findings``
and ``/cka``). The routes are documented in ``http_api.md``.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re

from tensorboard import errors
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_plugin import chart_bundle, data, diagnoses
from tb_plugin.metadata import PLUGIN_NAME
from tb_plugin.provider import low_latency_provider
from tb_plugin.warmup import Warmer

__all__ = ["InspectPlugin"]

_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.(js|css)$")
_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}
_QUANTITY = re.compile(r"^[A-Za-z0-9_.-]+$")
# Static files change only with the package; let the browser keep them for an hour.
_STATIC_EXPIRES = 3600


def _data_route(method):
    """Marks the time spent in a data route, during which background reads wait."""

    @functools.wraps(method)
    def route(self, request: wrappers.Request) -> wrappers.Response:
        with self._warmer.request():
            return method(self, request)

    return route


class InspectPlugin(base_plugin.TBPlugin):
    """Serves the Inspect tab: run index, scalar series, array values, Keras logs."""

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._provider = low_latency_provider(context.data_provider, context.flags)
        self._indexes = data.IndexCache()
        self._tensors = data.tensor_cache()
        self._last_tensors = data.tensor_cache(64 * 2**20)  # newest points of tensor series
        self._scalars = data.scalar_cache()
        self._last_scalars = data.scalar_cache(8 * 2**20)  # newest points of scalar series
        self._logs = data.scalar_cache(16 * 2**20)  # Keras' logs: native scalars, apart
        self._warmer = Warmer()  # whole-series reads while no request is being served
        self._findings = diagnoses.FindingsCache()

    def get_plugin_apps(self) -> dict:
        return {
            "/runs": self.runs_route,
            "/scalars": self.scalars_route,
            "/values": self.values_route,
            "/history": self.history_route,
            "/logs": self.logs_route,
            "/findings": self.findings_route,
            "/cka": self.cka_route,
            "/index.js": self.index_route,
            "/static/*": self.static_route,
            "/vendor/plotly.min.js": self.plotly_route,
        }

    def is_active(self) -> bool:
        return False  # consulted only when data_plugin_names() have no data

    def data_plugin_names(self) -> tuple[str, ...]:
        # Native scalars count too, so a logdir with only Keras' scalars opens the tab on the
        # getting-started hint instead of hiding it.
        return (PLUGIN_NAME, "scalars")

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Inspect")

    # Data routes ------------------------------------------------------------------------------

    @wrappers.Request.application
    @_data_route
    def runs_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        return _json(
            request, data.runs_impl(self._provider, ctx, eid, self._indexes, self._scalars)
        )

    @wrappers.Request.application
    @_data_route
    def scalars_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        answer = data.scalars_impl(
            self._provider,
            ctx,
            eid,
            self._indexes,
            self._scalars,
            _runs(request),
            _quantity(request),
            datasets=_names(request, "dataset"),
            layers=_names(request, "layer"),
            step=_step(request, required=False),
            last=self._last_scalars,
            warmer=self._warmer,
        )
        return _json(request, answer)

    @wrappers.Request.application
    @_data_route
    def values_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        answer = data.values_impl(
            self._provider,
            ctx,
            eid,
            self._indexes,
            self._tensors,
            run=_text(request, "run"),
            quantity=_quantity(request),
            step=_step(request),
            dataset=_text(request, "dataset", required=False),
            layer=_text(request, "layer", required=False),
            last=self._last_tensors,
            warmer=self._warmer,
        )
        return _json(request, answer)

    @wrappers.Request.application
    @_data_route
    def history_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        answer = data.history_impl(
            self._provider,
            ctx,
            eid,
            self._indexes,
            self._tensors,
            run=_text(request, "run"),
            quantity=_quantity(request),
            dataset=_text(request, "dataset"),
            layer=_text(request, "layer"),
        )
        return _json(request, answer)

    @wrappers.Request.application
    @_data_route
    def logs_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        return _json(
            request,
            data.logs_impl(self._provider, ctx, eid, self._indexes, self._logs, _runs(request)),
        )

    @wrappers.Request.application
    @_data_route
    def findings_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        answer = diagnoses.findings_impl(
            self._provider,
            ctx,
            eid,
            self._indexes,
            self._scalars,
            self._tensors,
            self._logs,
            self._findings,
            _runs(request),
        )
        return _json(request, answer)

    @wrappers.Request.application
    @_data_route
    def cka_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx, eid = _context(request)
        answer = diagnoses.cka_impl(
            self._provider,
            ctx,
            eid,
            self._indexes,
            self._tensors,
            _runs(request),
            _step(request),
            last=self._last_tensors,
            warmer=self._warmer,
        )
        return _json(request, answer)

    # Static files -----------------------------------------------------------------------------

    @wrappers.Request.application
    def index_route(self, request: wrappers.Request) -> wrappers.Response:
        return _static(request, "index.js")

    @wrappers.Request.application
    def static_route(self, request: wrappers.Request) -> wrappers.Response:
        name = request.path.split("/static/", 1)[-1]
        if not _STATIC_NAME.match(name):
            raise errors.NotFoundError(f"no static file {name!r}")
        return _static(request, name)

    @wrappers.Request.application
    def plotly_route(self, request: wrappers.Request) -> wrappers.Response:
        body = _plotly_gzipped()
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return http_util.Respond(
                request,
                body,
                "text/javascript",
                content_encoding="gzip",
                expires=_STATIC_EXPIRES,
            )
        return http_util.Respond(
            request, gzip.decompress(body), "text/javascript", expires=_STATIC_EXPIRES
        )


def _context(request: wrappers.Request):
    from tensorboard import plugin_util

    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _json(request: wrappers.Request, answer: dict) -> wrappers.Response:
    # The impls never put NaN or Inf in an answer (allow_nan=False enforces it), so the
    # answer skips TensorBoard's recursive Cleanse, which cost more than the data for matrices.
    body = json.dumps(answer, separators=(",", ":"), allow_nan=False)
    return http_util.Respond(request, body, "application/json")


def _text(request: wrappers.Request, name: str, required: bool = True) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise errors.InvalidArgumentError(f"missing query parameter {name!r}")
        return None
    if len(value) > 1000 or "\x00" in value:
        raise errors.InvalidArgumentError(f"query parameter {name!r} is malformed")
    return value


def _names(request: wrappers.Request, name: str) -> list[str]:
    """Every value of a repeatable parameter, in order, without repeats (may be empty)."""
    values = request.args.getlist(name)
    if len(values) > 1000 or any(len(v) > 1000 or "\x00" in v for v in values):
        raise errors.InvalidArgumentError(f"query parameter {name!r} is malformed")
    return list(dict.fromkeys(values))


def _runs(request: wrappers.Request) -> list[str]:
    """One or more ``run`` parameters."""
    runs = _names(request, "run")
    if not runs:
        raise errors.InvalidArgumentError("missing query parameter 'run'")
    return runs


def _quantity(request: wrappers.Request) -> str:
    quantity = _text(request, "quantity")
    if not _QUANTITY.match(quantity):
        raise errors.InvalidArgumentError(f"quantity {quantity!r} is not a quantity name")
    return quantity


def _step(request: wrappers.Request, required: bool = True) -> int | None:
    text = _text(request, "step", required)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise errors.InvalidArgumentError(f"step must be a non-negative integer, got {text!r}")
    return int(text)


def _static(request: wrappers.Request, name: str) -> wrappers.Response:
    path = os.path.realpath(os.path.join(_STATIC, name))
    if not path.startswith(os.path.realpath(_STATIC) + os.sep) or not os.path.isfile(path):
        raise errors.NotFoundError(f"no static file {name!r}")
    with open(path, "rb") as handle:
        body = handle.read()
    content_type = _CONTENT_TYPES[os.path.splitext(name)[1]]
    return http_util.Respond(request, body, content_type, expires=_STATIC_EXPIRES)


@functools.cache
def _plotly_gzipped() -> bytes:
    """The plotly.js bundle (see chart_bundle.py), compressed once per process."""
    try:
        path = chart_bundle.bundle_path()
    except chart_bundle.BundleError as error:
        raise errors.NotFoundError(str(error)) from error
    with open(path, "rb") as handle:
        return gzip.compress(handle.read(), compresslevel=6)
