"""python -m convert_weights (tools/convert-weights runs this)."""
import sys

from .cli import main

sys.exit(main())
