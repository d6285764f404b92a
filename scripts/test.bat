@echo off
rem Installs the project with its test tools into .venv and runs the whole test suite, as test.sh.
rem Extra arguments go to pytest, e.g. scripts\test.bat tests\unit -q
rem
rem MariaDB: test.sh starts a throwaway server for the tests marked `mysql`; on Windows give a
rem MariaDB/MySQL server of your own with TEST_MYSQL_HOST, TEST_MYSQL_PORT, TEST_MYSQL_USER,
rem TEST_MYSQL_PASSWORD and TEST_MYSQL_DATABASE (a database the tests may empty). Without
rem TEST_MYSQL_HOST those tests skip, saying why; on CI (CI=true) that is an error, as in test.sh.
setlocal
cd /d "%~dp0.."
call "%~dp0lib\ensure_venv.bat" dev || exit /b 1
if not defined TEST_MYSQL_HOST (
    if /i "%CI%"=="true" (
        echo error: CI must run the MySQL contract tests: set TEST_MYSQL_HOST and the other TEST_MYSQL_* 1>&2
        exit /b 1
    )
    echo note: TEST_MYSQL_HOST is not set: the tests marked mysql skip ^(see the top of scripts\test.bat^)
)
"%PYTHON_BIN%" -m pytest %*
exit /b %ERRORLEVEL%
