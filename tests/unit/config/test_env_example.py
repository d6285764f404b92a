"""`cp .env.example .env`, as the README says, changes nothing until the user fills it in."""
from __future__ import annotations

from dotenv import dotenv_values

from src.core.config.env_settings import CtpSettings, DatabaseSettings, load_dotenv_file
from src.paths import DATA_DIR, PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / ".env.example"


def test_the_template_leaves_the_embedded_database_in_force():
    environment: dict[str, str] = {}
    load_dotenv_file(EXAMPLE, environment)
    settings = DatabaseSettings.from_environment(environment)
    assert settings.driver == "sqlite"
    assert settings.database == str(DATA_DIR / "database.db")


def test_the_template_configures_no_login_and_no_webhook():
    values = {key: value for key, value in dotenv_values(EXAMPLE).items() if value is not None}
    assert CtpSettings.from_environment("CTP", values) is None
    assert CtpSettings.from_environment("SOPT", values) is None
    assert values.get("FEISHU_WEBHOOK_URL", "") == ""


def test_the_template_still_names_every_mysql_setting_for_the_user_to_fill_in():
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in ("DRIVER=mysql", "DATABASE", "HOST", "PORT", "USER", "PASSWORD"):
        assert f"# VNPY_DATABASE_{name}" in text
