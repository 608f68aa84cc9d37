"""Settings from the environment. In production the secrets come from files, as the stack's
prod profile mounts them: DATABASE_PASSWORD_FILE is put into DATABASE_URL, SECRET_KEY_FILE
signs responses. Neither value is ever logged."""

import os
import secrets
from dataclasses import dataclass

from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Settings:
    database_url: object  # a SQLAlchemy URL, so that the password is never printed with it
    redis_url: str
    secret_key: bytes


def read_secret(variable: str) -> str | None:
    path = os.environ.get(variable)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
    except OSError as e:
        raise SystemExit(f"{variable}={path}: cannot read it: {e.strerror}") from None
    if not value:
        raise SystemExit(f"{variable}={path}: the file is empty")
    return value


def load() -> Settings:
    url = make_url(
        os.environ.get(
            "DATABASE_URL",
            "postgresql+asyncpg://scheduler:localdev@db:5432/residency_scheduler",
        )
    )
    password = read_secret("DATABASE_PASSWORD_FILE")
    if password is not None:
        url = url.set(password=password)
    key = read_secret("SECRET_KEY_FILE")
    return Settings(
        database_url=url,
        redis_url=os.environ.get("REDIS_URL", "redis://redis:6379/0"),
        # Without a key (dev), a random one: signatures then hold for this process only.
        secret_key=(key or secrets.token_hex(32)).encode(),
    )
