@echo off
rem Live trading: one daemon per config\timeframe\*.yaml (python src\main\main.py --mode daemon
rem --override-config <file>), logs in data\logs\<timeframe>\. Needs CTP_* (and SOPT_*) in .env.
rem Extra arguments go to every daemon. Ctrl+C stops them cleanly.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
call "%~dp0lib\daemons.bat" "" %*
exit /b %ERRORLEVEL%
