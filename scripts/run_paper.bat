@echo off
rem Paper trading: like run.bat with --paper. Offline: run_paper.bat --replay [--replay-start D]
rem [--replay-end D] [--speed N] replays stored bars (the sample market is created when the database
rem has none) and stops at the end of the data. Fills go to the paper_trade table.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
call "%~dp0lib\daemons.bat" "--paper" %*
exit /b %ERRORLEVEL%
