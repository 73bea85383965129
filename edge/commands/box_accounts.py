"""The box's accounts (users and integration tokens) opened from the command line, for `edge users` and
`edge tokens`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from edge.core.config import Config, load_config
from edge.core.errors import UserError

if TYPE_CHECKING:
    from edge.api.accounts import Accounts


def box_config(config: Path | None) -> tuple[Config, bool]:
    """The box's configuration and whether its database exists yet. Without --config and without a
    database where the defaults point, the person most likely forgot --config: said, not guessed."""
    cfg = load_config(config)
    exists = cfg.database_path.is_file()
    if not exists and config is None:
        raise UserError(f"there is no database at {cfg.database_path}; pass the box's configuration with "
                        "--config FILE (or set EDGE_CONFIG)")  # fmt: skip
    return cfg, exists


@contextmanager
def opened_accounts(cfg: Config) -> Iterator[Accounts]:
    from edge.api.accounts import Accounts
    from edge.core.clock import WallClock
    from edge.store import Store

    clock = WallClock()
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled, clock=clock)
    try:
        yield Accounts(store, clock)
    finally:
        store.close()
