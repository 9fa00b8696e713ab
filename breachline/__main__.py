import sys

from breachline.cli import main

sys.exit(main())
