"""From NLU settings to the NLU package's plain configs, and the interpreter's lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from bot.config import Settings
from nlu.config import PipelineConfig, RuntimeConfig
from nlu.engine import Interpreter, LocalInterpreter, RemoteRasaInterpreter
from nlu.model_file import model_path


def pipeline_config(settings: Settings, *, dense: bool | None = None) -> PipelineConfig:
    nlu = settings.nlu
    config = PipelineConfig(dense=nlu.dense, seed=nlu.seed, n_jobs=nlu.train_jobs)
    return config if dense is None else replace(config, dense=dense)


def runtime_config(settings: Settings) -> RuntimeConfig:
    return RuntimeConfig(
        fallback_threshold=settings.nlu.fallback_threshold,
        max_text_chars=settings.nlu.max_text_chars,
        timezone=settings.business.timezone,
        language=settings.business.languages[0],
    )


def trained_model_path(settings: Settings) -> Path:
    return model_path(settings.nlu.model_dir)


@asynccontextmanager
async def open_interpreter(settings: Settings) -> AsyncIterator[Interpreter]:
    """The configured interpreter; a missing or broken local model stops start-up here."""
    runtime = runtime_config(settings)
    nlu = settings.nlu
    if nlu.backend == "remote":
        assert nlu.remote_url is not None  # the settings check this
        token = nlu.remote_token.get_secret_value() if nlu.remote_token else None
        timeout = nlu.remote_timeout.total_seconds()
        remote = RemoteRasaInterpreter(
            nlu.remote_url, timeout=timeout, token=token, runtime=runtime
        )
        async with remote:
            yield remote
        return
    local = await asyncio.to_thread(LocalInterpreter.load, trained_model_path(settings), runtime)
    async with local:
        yield local
