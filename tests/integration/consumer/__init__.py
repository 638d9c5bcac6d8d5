# Moved to tests/support this session; the old path stays importable until the next one (tests/support/moved.py).
from tests.support.moved import alias

alias(__name__, {"sending": "tests.support.sending"})
