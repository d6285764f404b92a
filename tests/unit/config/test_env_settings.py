from __future__ import annotations

import io
import logging

import pytest

from src.core.config.env_settings import CtpSettings, DatabaseSettings, load_dotenv_file
from src.core.config.errors import ConfigError
from src.core.config.secret_value import Secret, SecretMaskingFilter
from src.paths import DATA_DIR


def test_sqlite_default_lives_under_data():
    settings = DatabaseSettings.from_environment({})
    assert settings.driver == "sqlite"
    assert settings.database == str(DATA_DIR / "database.db")


def test_sqlite_relative_and_absolute_paths(tmp_path):
    assert DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": "x.db"}).database == str(DATA_DIR / "x.db")
    absolute = tmp_path / "bars.db"
    assert DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(absolute)}).database == str(absolute)


def test_mysql_settings_and_masking():
    settings = DatabaseSettings.from_environment({
        "VNPY_DATABASE_DRIVER": "MySQL", "VNPY_DATABASE_DATABASE": "volatility_strategy",
        "VNPY_DATABASE_HOST": "db", "VNPY_DATABASE_PORT": "3307", "VNPY_DATABASE_USER": "u",
        "VNPY_DATABASE_PASSWORD": "hunter2-db"})
    assert (settings.driver, settings.host, settings.port, settings.user) == ("mysql", "db", 3307, "u")
    assert settings.password.reveal() == "hunter2-db"
    for text in (repr(settings), str(settings), f"{settings.password}", settings.describe()):
        assert "hunter2-db" not in text


@pytest.mark.parametrize("environ,key", [
    ({"VNPY_DATABASE_DRIVER": "postgres"}, "VNPY_DATABASE_DRIVER"),
    ({"VNPY_DATABASE_DRIVER": "mysql"}, "VNPY_DATABASE_DATABASE"),
    ({"VNPY_DATABASE_PORT": "33o6"}, "VNPY_DATABASE_PORT"),
    ({"VNPY_DATABASE_PORT": "70000"}, "VNPY_DATABASE_PORT"),
])
def test_bad_database_environment(environ, key):
    with pytest.raises(ConfigError) as caught:
        DatabaseSettings.from_environment(environ)
    assert caught.value.key == key


def test_ctp_settings():
    assert CtpSettings.from_environment("CTP", {}) is None
    env = {"CTP_USERNAME": "000001", "CTP_PASSWORD": "pa55-ctp", "CTP_BROKER_ID": "9999",
           "CTP_TD_SERVER": "tcp://127.0.0.1:1", "CTP_MD_SERVER": "tcp://127.0.0.1:2",
           "CTP_PRODUCT_NAME": "p", "CTP_AUTH_CODE": "auth-code-xyz"}
    settings = CtpSettings.from_environment("CTP", env)
    assert settings.password.reveal() == "pa55-ctp"
    assert "pa55-ctp" not in repr(settings) and "auth-code-xyz" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        CtpSettings.from_environment("CTP", {k: v for k, v in env.items() if k != "CTP_BROKER_ID"})
    assert caught.value.key == "CTP_BROKER_ID"


def test_secret_cannot_be_pickled():
    import pickle
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_log_lines_mask_secret_values():
    Secret("very-secret-token")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretMaskingFilter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    try:
        logger.error("connecting with %s", "very-secret-token")
        try:
            raise RuntimeError("login failed for very-secret-token")
        except RuntimeError:
            logger.exception("failure")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "very-secret-token" not in output
    assert output.count("***") >= 2


def test_dotenv_does_not_override_environment(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("A=from_file\nB=from_file\n", encoding="utf-8")
    environ = {"A": "from_env"}
    load_dotenv_file(env_file, environ)
    assert environ == {"A": "from_env", "B": "from_file"}
