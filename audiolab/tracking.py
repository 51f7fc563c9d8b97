"""Weights & Biases runs that never break training.

One W&B run per (experiment, configuration, fold)::

    from audiolab import tracking

    with tracking.start_run(group="cv-conv1d", name=f"{config}-fold{k}", config=cfg) as run:
        run.define_metric("val/*", step_metric="epoch")
        for epoch in ...:
            run.log({"epoch": epoch, "train/loss": ..., "val/accuracy": ...}, step=epoch)
        run.summary({"val/accuracy": ...})

What audiolab's training runs log, and under which names: :mod:`audiolab.evaluation.run_log`.

Where runs go: see :func:`resolve_mode`. ``"offline"`` writes files under ``./wandb/``
(upload them later with ``wandb sync wandb/offline-run-*``); ``"disabled"`` does nothing
and does not even import ``wandb``.

Nothing here raises into training code: if ``wandb.init`` fails (no network, server down,
bad key) an online run falls back to offline — and later runs in the same process go straight
to offline instead of waiting for the timeout again — and if that fails too the run becomes a
no-op. Every :class:`Run` method swallows W&B errors and warns once per run (:class:`TrackingWarning`).
"""
from __future__ import annotations

import io
import logging
import netrc
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from ._util import plain

__all__ = ["TrackingWarning", "Run", "resolve_mode", "start_run", "VALID_MODES"]

logger = logging.getLogger(__name__)

VALID_MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"dryrun": "offline", "run": "online"}  # legacy WANDB_MODE values
_DEFAULT_HOSTS = ("api.wandb.ai", "api.forge.coreweave.com")
# Seconds wandb.init may wait for the server before it gives up; $WANDB_INIT_TIMEOUT overrides.
DEFAULT_INIT_TIMEOUT = 30.0

# Set after an online wandb.init failed in this process: later online runs go offline directly.
_online_failed = False


class TrackingWarning(UserWarning):
    """W&B tracking failed or was switched off; training continues."""


# --- mode ------------------------------------------------------------------
def _normalize_mode(value: str, source: str) -> str:
    mode = str(value).strip().lower()
    mode = _MODE_ALIASES.get(mode, mode)
    if mode not in VALID_MODES:
        raise ValueError(f"{source}={value!r} is not a W&B mode; use one of {', '.join(VALID_MODES)}.")
    return mode


def _netrc_paths() -> list[Path]:
    if os.environ.get("NETRC"):
        return [Path(os.environ["NETRC"]).expanduser()]
    return [Path("~/.netrc").expanduser(), Path("~/_netrc").expanduser()]


def _has_api_key() -> bool:
    """Whether W&B credentials are configured, without importing wandb. Mirrors wandb's lookup:
    ``$WANDB_API_KEY``, ``$WANDB_IDENTITY_TOKEN_FILE``, then a netrc entry (``$NETRC``, ``~/.netrc``
    or ``~/_netrc``) for the W&B host (``$WANDB_BASE_URL``, default api.wandb.ai / its CoreWeave address)."""
    if os.environ.get("WANDB_API_KEY", "").strip() or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    base_url = os.environ.get("WANDB_BASE_URL", "").strip()
    hosts = (urlsplit(base_url).netloc,) if base_url else _DEFAULT_HOSTS
    for path in _netrc_paths():
        if not path.is_file():
            continue
        try:
            entries = netrc.netrc(str(path))
        except (netrc.NetrcParseError, OSError) as exc:
            logger.debug("ignoring unreadable netrc %s: %s", path, exc)
            continue
        for host in hosts:
            creds = entries.authenticators(host)
            if creds and creds[2]:
                return True
        return False  # wandb reads only the first netrc file that exists
    return False


def resolve_mode(mode: str | None = None) -> str:
    """The W&B mode to use: ``"online"``, ``"offline"`` or ``"disabled"``.

    Precedence: explicit ``mode`` > ``$WANDB_MODE`` > ``"online"`` if an API key is
    configured (``$WANDB_API_KEY``, ``$WANDB_IDENTITY_TOKEN_FILE`` or a netrc entry for the W&B
    host, as ``wandb login`` writes) > ``"offline"``.
    Raises ``ValueError`` for an unknown mode (``"dryrun"``/``"run"``, the legacy
    spellings of offline/online, are accepted).
    """
    if mode is not None:
        return _normalize_mode(mode, "mode")
    env_mode = os.environ.get("WANDB_MODE", "").strip()
    if env_mode:
        return _normalize_mode(env_mode, "WANDB_MODE")
    return "online" if _has_api_key() else "offline"


# --- figures ---------------------------------------------------------------
def _figure_to_pil(fig):
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    buf.seek(0)
    image = Image.open(buf)
    image.load()
    return image


def _is_figure(value: Any) -> bool:
    return type(value).__name__ in ("Figure", "SubFigure") and hasattr(value, "savefig")


# --- Run -------------------------------------------------------------------
class Run:
    """A W&B run, or a no-op stand-in; every method is safe to call in training code.

    Made by :func:`start_run`. Attributes: ``mode`` (``"online"``, ``"offline"`` or ``"disabled"`` —
    what actually happened), ``enabled`` (a real W&B run behind it), ``dir`` (the run's folder, e.g.
    ``wandb/offline-run-…``, or ``None``), ``id``, ``name``, ``url``. Usable as a context manager;
    the run is finished on exit (marked failed if an exception escapes, which is re-raised).
    """

    def __init__(self, run: Any = None, *, mode: str = "disabled", wandb: Any = None) -> None:
        self._run = run
        self._wandb = wandb
        self.mode = mode if run is not None else "disabled"
        self._warned = False
        self._finished = run is None
        self._step: int | None = None

    # -- info ----------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._run is not None

    @property
    def dir(self) -> Path | None:
        if self._run is None:
            return None
        try:
            return Path(self._run.settings.sync_dir)
        except Exception:
            try:
                return Path(self._run.dir).parent
            except Exception:
                return None

    @property
    def id(self) -> str | None:
        return getattr(self._run, "id", None) if self._run is not None else None

    @property
    def name(self) -> str | None:
        return getattr(self._run, "name", None) if self._run is not None else None

    @property
    def url(self) -> str | None:
        if self._run is None or self.mode != "online":
            return None
        try:
            return self._run.url
        except Exception:
            return None

    def __repr__(self) -> str:
        if self._run is None:
            return "Run(disabled)"
        return f"Run(mode={self.mode!r}, name={self.name!r}, id={self.id!r}, dir={str(self.dir)!r})"

    # -- safety net ----------------------------------------------------------
    def _guard(self, what: str, fn, *args, **kwargs) -> None:
        if self._run is None or self._finished:
            return
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # tracking must never stop training
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"W&B {what} failed ({type(exc).__name__}: {exc}); training continues "
                    "and further W&B errors of this run are not reported.",
                    TrackingWarning, stacklevel=3,
                )
            logger.debug("W&B %s failed", what, exc_info=True)

    # -- API -----------------------------------------------------------------
    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log a dict of metrics (``None`` values are skipped; matplotlib figures
        become images) at ``step`` (e.g. the epoch; steps must not decrease)."""
        if self._run is None or self._finished:
            return

        def do() -> None:
            data = {}
            for key, value in metrics.items():
                if value is None:
                    continue
                if _is_figure(value):
                    data[str(key)] = self._wandb.Image(_figure_to_pil(value))
                elif type(value).__module__.split(".")[0] == "wandb":  # wandb.Image, Table, ...
                    data[str(key)] = value
                else:
                    data[str(key)] = plain(value)
            if step is None:
                self._run.log(data)
            else:
                self._step = int(step)
                self._run.log(data, step=self._step)

        self._guard("log", do)

    def log_figure(self, name: str, fig, step: int | None = None) -> None:
        """Log a matplotlib figure (not closed) as an image under ``name``. Without ``step`` the image
        joins the last step given to :meth:`log`, so a figure after the last epoch adds no extra step."""
        if self._run is None or self._finished:
            return

        def do() -> None:
            image = self._wandb.Image(_figure_to_pil(fig))
            at = step if step is not None else self._step
            if at is None:
                self._run.log({name: image})
            else:
                self._step = max(int(at), self._step or 0)
                self._run.log({name: image}, step=int(at))

        self._guard("log_figure", do)

    def define_metric(self, name: str, step_metric: str | None = None, **options: Any) -> None:
        """How W&B charts ``name`` (or a glob such as ``"val/*"``): e.g. against ``step_metric``, or ``hidden=True``."""
        self._guard("define_metric", lambda: self._run.define_metric(name, step_metric=step_metric, **options))

    def with_wandb(self, what: str, fn) -> None:
        """``fn(wandb, run)`` with the ``wandb`` module and the real run, for what this class does not wrap (plots,
        tables, artifacts): skipped like every method when the run is off, its W&B errors swallowed."""
        self._guard(what, fn, self._wandb, self._run)

    def summary(self, values: Mapping[str, Any]) -> None:
        """Set final/best values shown in the runs table (``run.summary.update``)."""
        self._guard("summary", lambda: self._run.summary.update(plain(dict(values))))

    def finish(self, exit_code: int | None = None) -> None:
        """Finish the run (flush files); later calls and calls after it are no-ops."""
        if self._run is None or self._finished:
            return
        if exit_code is None:
            self._guard("finish", self._run.finish)
        else:
            self._guard("finish", self._run.finish, exit_code=exit_code)
        self._finished = True

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.finish(exit_code=1 if exc_type is not None else None)
        return False


# --- start_run -------------------------------------------------------------
def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _init_timeout() -> float:
    try:
        return float(os.environ.get("WANDB_INIT_TIMEOUT", DEFAULT_INIT_TIMEOUT))
    except ValueError:
        return DEFAULT_INIT_TIMEOUT


def _settings(wandb, mode: str, overrides: Mapping[str, Any] | None):
    """wandb.Settings that keep a run cheap and quiet; names older wandb versions lack are dropped."""
    wanted: dict[str, Any] = {
        "init_timeout": _init_timeout(),
        "console": "off",  # do not capture stdout/stderr
        "x_disable_stats": True,  # no system-metrics sampler per run
        "x_save_requirements": False,  # skips a pip freeze per run (the main cost offline)
    }
    if mode == "offline":
        wanted["silent"] = True
    else:
        wanted["quiet"] = True
    wanted.update(overrides or {})
    fields = getattr(wandb.Settings, "model_fields", None)
    if fields is not None:
        wanted = {k: v for k, v in wanted.items() if k in fields}
    for attempt in (wanted, {k: v for k, v in wanted.items() if not k.startswith("x_")}, {}):
        try:
            return wandb.Settings(**attempt)
        except Exception:
            continue
    return None


def _init(wandb, mode: str, kwargs: dict, settings_overrides):
    settings = _settings(wandb, mode, settings_overrides)
    reinit: Any = "finish_previous" if _version_tuple(wandb.__version__) >= (0, 19, 10) else True
    return wandb.init(mode=mode, settings=settings, reinit=reinit, **kwargs)


def _off(message: str) -> Run:
    """Warn (as the caller of :func:`start_run`) why tracking is off, and return a no-op run."""
    warnings.warn(message, TrackingWarning, stacklevel=3)
    return Run(None, mode="disabled")


def start_run(
    project: str = "audiolab",
    name: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    config: Any = None,
    mode: str | None = None,
    dir: str | os.PathLike | None = None,
    tags: Sequence[str] | str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Run:
    """Start one W&B run and wrap it in a :class:`Run` that never raises.

    Args:
        project: W&B project.
        name: run name, e.g. ``f"{config_name}-fold{k}"``.
        group: the experiment, e.g. ``"cv-transformer"``: W&B groups its runs.
        job_type: e.g. ``"cv"``, ``"search"``, ``"test"``.
        config: hyperparameters — a dict, or a config dataclass (``to_dict()`` is used).
        mode: ``"online"``, ``"offline"`` or ``"disabled"``; ``None``: :func:`resolve_mode`.
        dir: folder (created if missing) for W&B's ``wandb/`` run folders; default
            ``$WANDB_DIR`` or the current directory (so runs land in ``./wandb/``).
        tags: run tags.
        settings: ``wandb.Settings`` fields overriding the defaults (``console="off"``,
            ``x_disable_stats=True``, ``x_save_requirements=False``, ``init_timeout`` 30 s or
            ``$WANDB_INIT_TIMEOUT``, silent offline / quiet online); e.g. ``{"x_disable_stats": False}`` for GPU charts.

    Returns:
        A :class:`Run`; ``run.enabled`` is False when tracking is disabled or W&B
        could not start (a :class:`TrackingWarning` says why).
    """
    global _online_failed
    mode = resolve_mode(mode)
    if mode == "disabled":
        return Run(None, mode="disabled")

    try:
        import wandb
    except Exception as exc:
        return _off(f"wandb could not be imported ({type(exc).__name__}: {exc}); tracking is off. "
                    "Install it with `pip install wandb`, or pass mode='disabled'.")

    root = Path(dir if dir is not None else os.environ.get("WANDB_DIR") or ".").expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _off(f"Cannot create W&B dir {root} ({exc}); tracking is off.")

    if isinstance(tags, str):
        tags = [tags]
    kwargs = dict(project=project, name=name, group=group, job_type=job_type,
                  config=plain(config) if config is not None else None,
                  dir=str(root), tags=list(tags) if tags else None)

    if mode == "online" and _online_failed:
        mode = "offline"
    if mode == "online":
        try:
            return Run(_init(wandb, "online", kwargs, settings), mode="online", wandb=wandb)
        except Exception as exc:
            _online_failed = True
            warnings.warn(
                f"W&B online run could not start ({type(exc).__name__}: {str(exc)[:300]}); "
                "logging offline instead for the rest of this session. Upload later with "
                f"`wandb sync {root / 'wandb'}/offline-run-*`.",
                TrackingWarning, stacklevel=2,
            )
            mode = "offline"
    try:
        run = _init(wandb, "offline", kwargs, settings)
    except Exception as exc:
        return _off(f"W&B run could not start ({type(exc).__name__}: {str(exc)[:300]}); "
                    "tracking is off for this run, training continues.")
    wrapped = Run(run, mode="offline", wandb=wandb)
    logger.info("W&B offline run %s in %s", name or wrapped.id, wrapped.dir)
    return wrapped
