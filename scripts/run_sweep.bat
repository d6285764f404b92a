@echo off
rem Parameter sweep / genetic search / walk-forward over full backtests.
rem Creates .venv when missing, creates the synthetic sample market when the database has none for the
rem dates, then runs python -m src.backtesting.sweep. Default grid: config\examples\sweep.yaml.
rem Extra arguments go to the sweep command (--grid, --objective, --constraint, --walk-forward, ...).
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
"%PYTHON_BIN%" -m src.backtesting.sweep --sample-market %*
exit /b %ERRORLEVEL%
