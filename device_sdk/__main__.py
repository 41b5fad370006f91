"""``python -m device_sdk``: the device-sdk command."""

import sys

from .cli import main

sys.exit(main())
