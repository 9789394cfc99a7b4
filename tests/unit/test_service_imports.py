"""What a serving process imports: its cold start is mostly import time."""

import subprocess
import sys


def test_the_server_imports_neither_scikit_learn_nor_pandas():
    probe = ("import sys, movierec.service.server; "
             "print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_scikit_learn_still_imports_after_the_service():
    probe = "import movierec.service.personal, sklearn.cluster; print('ok')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "ok"
