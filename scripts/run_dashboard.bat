@echo off
rem The monitoring dashboard on http://localhost:5007 (read-only); opens the browser unless --no-browser.
rem run_dashboard.bat [--host 127.0.0.1] [--port 5007] [--no-browser]. Another address needs DASHBOARD_TOKEN in .env.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" || exit /b 1
"%PYTHON_BIN%" -m src.web.app %*
exit /b %ERRORLEVEL%
