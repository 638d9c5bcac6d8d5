"""`python -m localhub [--host H] [--port P] [--hub NAME[:PARTITIONS]]... [--data-dir DIR]`."""

import os

from common.logs import configure_logging
from localhub.cli import standalone

configure_logging(os.environ.get("CHARGEBACK_LOG_LEVEL", "INFO"))
standalone()(prog_name="python -m localhub")
