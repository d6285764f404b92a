@echo off
rem Makes .venv when missing and installs the project into it (with the extra given as %1).
cd /d "%~dp0..\.."
if not exist ".venv\Scripts\python.exe" (
    echo Creating .venv
    py -3.11 -m venv .venv 2>nul || python -m venv .venv || exit /b 1
)
if not exist ".venv\.installed" (
    ".venv\Scripts\python.exe" -m pip install --quiet --upgrade pip
    if "%~1"=="" (
        ".venv\Scripts\python.exe" -m pip install --quiet -e . || exit /b 1
    ) else (
        ".venv\Scripts\python.exe" -m pip install --quiet -e ".[%~1]" || exit /b 1
    )
    type nul > ".venv\.installed"
)
exit /b 0
