@echo off
rem Installs the project with its test tools into .venv and runs the whole test suite.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" dev || exit /b 1
".venv\Scripts\python.exe" -m pytest %*
exit /b %ERRORLEVEL%
