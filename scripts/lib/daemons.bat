@echo off
rem Called by run.bat and run_paper.bat (after ensure_venv.bat): one daemon per config\timeframe\*.yaml,
rem as daemons.sh does. %1: the mode flags in quotes ("" or "--paper"); the other arguments go to
rem every daemon. scripts\lib\run_daemons.py starts them, waits for all of them and exits with the
rem first non-zero exit code among them (0 when all stopped cleanly or finished; 2 without any
rem timeframe file). Ctrl+C reaches every daemon (they share this console), which stops its child.
setlocal
set "MODE_FLAGS=%~1"
shift
set "EXTRA="
:collect
if "%~1"=="" goto run
set EXTRA=%EXTRA% %1
shift
goto collect
:run
"%PYTHON_BIN%" scripts\lib\run_daemons.py %MODE_FLAGS% -- %EXTRA%
exit /b %ERRORLEVEL%
