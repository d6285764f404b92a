@echo off
rem Called by the scripts: makes .venv (Python 3.11) when missing and installs the project into it
rem whenever pyproject.toml changed since the last install, as ensure_venv.sh does.
rem Usage: call scripts\lib\ensure_venv.bat [extra]   (extra: "dev" for the test tools)
rem One stamp per pyproject.toml hash and extra (.venv\.installed-<hash>[-<extra>]); an install
rem with the dev tools also serves the scripts that need no extra. Sets PYTHON_BIN.
cd /d "%~dp0..\.."
set "EXTRA=%~1"

if exist ".venv\Scripts\python.exe" goto venv_ready
set "PYTHON="
py -3.11 -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)" >nul 2>&1 && set "PYTHON=py -3.11"
if not defined PYTHON (
    python -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)" >nul 2>&1 && set "PYTHON=python"
)
if not defined PYTHON (
    echo error: Python 3.11 is needed ^(the py launcher with 3.11, or python 3.11 on PATH^) 1>&2
    exit /b 1
)
echo Creating .venv with %PYTHON%
%PYTHON% -m venv .venv || exit /b 1
:venv_ready

set "HASH="
for /f "usebackq delims=" %%H in (`.venv\Scripts\python.exe -c "import hashlib; print(hashlib.sha256(open('pyproject.toml', 'rb').read()).hexdigest()[:16])"`) do set "HASH=%%H"
if not defined HASH (
    echo error: cannot read pyproject.toml with .venv\Scripts\python.exe 1>&2
    exit /b 1
)
set "STAMP=.venv\.installed-%HASH%"
if not "%EXTRA%"=="" set "STAMP=%STAMP%-%EXTRA%"
if exist "%STAMP%" goto installed
if "%EXTRA%"=="" if exist ".venv\.installed-%HASH%-dev" goto installed

echo Installing the project into .venv (first run builds vnpy_ctp/vnpy_sopt: a few minutes)
.venv\Scripts\python.exe -m pip install --quiet --upgrade pip || exit /b 1
if "%EXTRA%"=="" (
    .venv\Scripts\python.exe -m pip install --progress-bar off -e . || exit /b 1
) else (
    .venv\Scripts\python.exe -m pip install --progress-bar off -e ".[%EXTRA%]" || exit /b 1
)
for %%S in (.venv\.installed-*) do (
    echo %%~nxS| findstr /b /c:".installed-%HASH%" >nul || del "%%S"
)
type nul > "%STAMP%"
:installed
set "PYTHON_BIN=%CD%\.venv\Scripts\python.exe"
exit /b 0
