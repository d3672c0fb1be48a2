import sys

from ml.cli import main

sys.exit(main())
