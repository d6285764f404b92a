@echo off
rem Hong Kong ticks from AllTick (ALLTICK_TOKEN in .env) into the configured database, under a daemon
rem during HKEX hours (logs in data\logs\datafeed-hk\).
rem Arguments go to python -m src.datafeed.hk run, e.g. --codes 700.HK,9988.HK (required).
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
"%PYTHON_BIN%" -m src.datafeed.hk run %*
exit /b %ERRORLEVEL%
