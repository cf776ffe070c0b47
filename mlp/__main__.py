import sys

from mlp.cli import main

sys.exit(main())
