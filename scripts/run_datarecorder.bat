@echo off
rem Data recorder: records config\general\data_recorder_setting.json from the CTP/SOPT gateways of
rem .env into the configured database, under a daemon (logs in data\logs\recorder\).
rem Extra arguments go to python -m src.main.recorder.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
"%PYTHON_BIN%" -m src.main.recorder --mode daemon %*
exit /b %ERRORLEVEL%
