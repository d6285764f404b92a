@echo off
rem The main job: creates .venv when missing, installs, creates the synthetic sample market in the
rem embedded SQLite database when it has none for the dates, runs the default backtest and prints
rem where the report is. Extra arguments go to python -m src.backtesting.cli.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
"%PYTHON_BIN%" -m src.backtesting.cli --sample-market %*
exit /b %ERRORLEVEL%
