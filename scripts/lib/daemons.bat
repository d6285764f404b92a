@echo off
rem Called by run.bat and run_paper.bat: one daemon per config\timeframe\*.yaml, all in this console.
rem %1: the mode flags in quotes ("" or "--paper"); the other arguments go to every daemon.
rem Ctrl+C reaches every daemon, which stops its child cleanly.
setlocal EnableDelayedExpansion
set "MODE_FLAGS=%~1"
shift
set "EXTRA="
:collect
if "%~1"=="" goto start
set "EXTRA=!EXTRA! %1"
shift
goto collect
:start
set "FOUND="
for %%F in (config\timeframe\*.yaml) do (
    set "FOUND=1"
    echo starting the daemon for %%~nxF
    start "daemon %%~nF" /b ".venv\Scripts\python.exe" src\main\main.py --mode daemon --override-config "%%F" !MODE_FLAGS! !EXTRA!
)
if not defined FOUND (
    echo error: no config\timeframe\*.yaml: add one file per timeframe 1>&2
    exit /b 2
)
echo daemons started in this console; Ctrl+C stops them
exit /b 0
